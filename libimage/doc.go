// Package libimage is berth's image store: content-addressed blobs, layers unpacked once per
// chain ID through a storage driver, and image records kept through a Metadata the caller
// supplies. The store is one more go-containerregistry source and sink: pull is remote.Image
// into the store, push is a store image into remote.Write, save is tarball.Write.
//
// It never runs SQL (internal/state implements Metadata) and never touches networks.
package libimage
