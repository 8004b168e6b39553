// Path of the prebuilt addon file in this package (resolved by @parascan/native's loader).
module.exports = { addonPath: require('node:path').join(__dirname, 'parascan.node') };
