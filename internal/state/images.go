package state

// imageMigrations is the image store's schema (owned by the libimage work).
var imageMigrations = []string{}
