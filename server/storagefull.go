package server

import (
	"context"
	"io"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	favsync "github.com/favad/favad/sync"
)

// spaceAwareStore is the uploads' data store answering a write the disk
// refused (full, over quota or read-only) with 507 storage_full, where tusd
// would send a bare 500. The bytes written before the refusal stay in the
// upload, which the client resumes from HEAD's offset once space returns;
// no evidence record is touched until the whole file is there.
type spaceAwareStore struct{ tusd.DataStore }

func (s spaceAwareStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	up, err := s.DataStore.NewUpload(ctx, info)
	if err != nil {
		return nil, tusNoSpace(err)
	}
	return spaceAwareUpload{up}, nil
}

func (s spaceAwareStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	up, err := s.DataStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return spaceAwareUpload{up}, nil
}

type spaceAwareUpload struct{ tusd.Upload }

func (u spaceAwareUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.Upload.WriteChunk(ctx, offset, src)
	return n, tusNoSpace(err)
}

func (u spaceAwareUpload) FinishUpload(ctx context.Context) error {
	return tusNoSpace(u.Upload.FinishUpload(ctx))
}

// tusNoSpace turns a write refused for want of space into tusd's error
// carrying the storage_full problem; other errors pass unchanged.
func tusNoSpace(err error) error {
	if err != nil && favsync.IsNoSpace(err) {
		return tusFromApp(favsync.StorageFull(err))
	}
	return err
}
