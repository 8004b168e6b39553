export * from './surface.js';
export {
  loadNativeAddon,
  tryLoadNativeAddon,
  nativeCandidates,
  platformPackageName,
  resetNativeLoaderCache,
  type NativeKind,
  type NativeCandidate,
} from './loader.js';
