package media_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"sync"
	"time"

	"github.com/favad/favad/media"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

func ExampleThumbnail() {
	var photo bytes.Buffer
	_ = jpeg.Encode(&photo, image.NewGray(image.Rect(0, 0, 1200, 800)), nil)

	thumb, err := media.Thumbnail(&photo, "image/jpeg", media.DefaultMaxSide)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, _ := jpeg.DecodeConfig(bytes.NewReader(thumb))
	fmt.Printf("%d×%d\n", cfg.Width, cfg.Height)

	_, err = media.Thumbnail(bytes.NewReader([]byte("%PDF-1.7")), "application/pdf", 0)
	fmt.Println(err)
	// Output:
	// 320×213
	// media: no thumbnail for this type: "application/pdf"
}

// The thumbnailer runs beside the HTTP server; on shutdown it is stopped and
// waited for before the store closes.
func ExampleThumbnailer() {
	run := func(ctx context.Context, store *favsync.Store, blobs blob.Store, log *slog.Logger) {
		th := &media.Thumbnailer{Store: store, Blobs: blobs, Dir: "/var/lib/favad/thumbs", Logger: log}
		if err := th.Validate(); err != nil {
			log.Error("thumbnailer", "error", err)
			return
		}
		var wg sync.WaitGroup
		wg.Go(func() { th.Run(ctx, 5*time.Second) })

		// … serve HTTP until ctx is done; the download handler uses th.Open(sha) …

		wg.Wait() // before store.Close()
	}
	_ = run
}
