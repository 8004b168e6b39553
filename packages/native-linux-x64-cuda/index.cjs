// Path of the prebuilt CUDA addon file in this package (resolved lazily by @parascan/native).
module.exports = { addonPath: require('node:path').join(__dirname, 'parascan_cuda.node') };
