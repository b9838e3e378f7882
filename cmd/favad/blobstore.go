package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/blob/s3blob"
)

// blobConfig says where evidence bytes are kept: --blob-store and, for
// s3://, the --s3-* flags. Credentials are never flags (they would show in
// ps): FAVAD_S3_ACCESS_KEY and FAVAD_S3_SECRET_KEY, else the standard
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
type blobConfig struct {
	Store     string // --blob-store: file://DIR or s3://bucket/prefix; "" means file://<data>/blobs
	Endpoint  string // --s3-endpoint: host[:port], or http://host[:port] for plain HTTP
	Region    string // --s3-region
	PathStyle bool   // --s3-path-style
}

func (b *blobConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&b.Store, "blob-store", "", "where evidence bytes are kept: file://DIR, or s3://bucket/prefix with --s3-endpoint (default file://<data>/blobs)")
	b.registerS3(fs)
}

// registerS3 declares the flags of the S3 server alone (backup, restore).
func (b *blobConfig) registerS3(fs *flag.FlagSet) {
	fs.StringVar(&b.Endpoint, "s3-endpoint", "", "S3 server of an s3:// blob store: host[:port] (HTTPS), or http://host[:port] for plain HTTP; credentials from $FAVAD_S3_ACCESS_KEY and $FAVAD_S3_SECRET_KEY, else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&b.Region, "s3-region", "", "region of the s3:// blob store's bucket (default: asked of the server)")
	fs.BoolVar(&b.PathStyle, "s3-path-style", false, "address the bucket in the URL path (MinIO, SeaweedFS, Ceph) rather than as a virtual host")
}

// open returns the blob store the flags name, for the data directory data.
// An s3:// store is checked (the bucket exists, the credentials reach it)
// before it is returned. Its errors about the flags are usage errors.
func (b *blobConfig) open(ctx context.Context, data string, getenv func(string) string) (blob.Store, error) {
	switch {
	case b.Store == "":
		return &blob.FS{Dir: filepath.Join(data, "blobs")}, nil
	case strings.HasPrefix(b.Store, "file://"):
		dir := strings.TrimPrefix(b.Store, "file://")
		if dir == "" {
			return nil, usagef("--blob-store %q: give file://DIR", b.Store)
		}
		return &blob.FS{Dir: dir}, nil
	case strings.HasPrefix(b.Store, "s3://"):
	default:
		return nil, usagef("--blob-store %q: use file://DIR or s3://bucket/prefix", b.Store)
	}
	cfg, err := b.s3Config(b.Store, "--blob-store", getenv)
	if err != nil {
		return nil, err
	}
	s, err := s3blob.New(cfg)
	if err != nil {
		return nil, usagef("--blob-store: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Check(ctx); err != nil {
		return nil, fmt.Errorf("blob store %s: %w", s, err)
	}
	return s, nil
}

// s3Config reads an s3://bucket/prefix URL (given as flag) with the --s3-*
// flags and the credentials in the environment. Its errors are usage errors.
func (b *blobConfig) s3Config(raw, flag string, getenv func(string) string) (s3blob.Config, error) {
	bucket, prefix, err := s3blob.ParseURL(raw)
	if err != nil {
		return s3blob.Config{}, usagef("%s: %v", flag, err)
	}
	cfg := s3blob.Config{Endpoint: b.Endpoint, Region: b.Region, PathStyle: b.PathStyle, Bucket: bucket, Prefix: prefix}
	switch {
	case b.Endpoint == "":
		return s3blob.Config{}, usagef("%s %s needs --s3-endpoint", flag, raw)
	case strings.HasPrefix(b.Endpoint, "http://"):
		cfg.Endpoint, cfg.Insecure = strings.TrimPrefix(b.Endpoint, "http://"), true
	case strings.HasPrefix(b.Endpoint, "https://"):
		cfg.Endpoint = strings.TrimPrefix(b.Endpoint, "https://")
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	cfg.AccessKey, cfg.SecretKey = getenv(envPrefix+"S3_ACCESS_KEY"), getenv(envPrefix+"S3_SECRET_KEY")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		cfg.AccessKey, cfg.SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return s3blob.Config{}, usagef("S3 credentials: give both the access key and the secret key ($FAVAD_S3_ACCESS_KEY and $FAVAD_S3_SECRET_KEY, or $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)")
	}
	return cfg, nil
}
