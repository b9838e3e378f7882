// Package media reads what photo evidence says about itself and makes the
// small previews the dispatch console shows.
//
// ReadPhotoMeta pulls the capture time, position and camera out of a photo's
// EXIF, reading a bounded part of the file however large it is; it never
// panics on hostile bytes. Thumbnail scales a JPEG, PNG or WebP down to a
// small JPEG and refuses images whose header claims more pixels than
// MaxPixels. Thumbnailer is the background worker that drains the store's
// thumbnail queue: it survives restarts because the queue lives in the store,
// and a thumbnail is named by the SHA-256 of the bytes it was made from, so
// the same bytes are thumbnailed once.
//
// The package depends on the store and the blob store only through the small
// interfaces it declares (Queue) and blob.Store.
package media
