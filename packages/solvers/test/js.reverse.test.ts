import { jsSweep } from './js-sweep.js';

jsSweep('reverse');
