package bunstore

// Unavailable exposes the store's outage classification to the external tests.
var Unavailable = unavailable
