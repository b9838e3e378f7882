package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/demo"
	"github.com/favad/favad/internal/s3test"
)

// TestVerifyDetectsTampering uploads evidence to a real server, then checks
// that `favad verify` passes while it runs, and finds a blob altered in the
// blob store and an evidence record altered in the store; with the blobs on
// the local disk (the default) and in S3 (--blob-store s3://…, on the
// SeaweedFS that internal/s3test starts).
func TestVerifyDetectsTampering(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		testVerifyDetectsTampering(t, nil, nil, func(t *testing.T, data, sha string) {
			blob := filepath.Join(data, "blobs", sha[:2], sha)
			if err := os.Chmod(blob, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blob, []byte("not the photo"), 0o600); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("s3", func(t *testing.T) {
		tg := s3test.New(t)
		flags := []string{"--blob-store", tg.URL(), "--s3-endpoint", "http://" + tg.Endpoint, "--s3-region", tg.Region, "--s3-path-style"}
		env := []string{"FAVAD_S3_ACCESS_KEY=" + tg.AccessKey, "FAVAD_S3_SECRET_KEY=" + tg.SecretKey}
		testVerifyDetectsTampering(t, flags, env, func(t *testing.T, data, sha string) {
			if entries, _ := os.ReadDir(filepath.Join(data, "blobs")); len(entries) > 0 {
				t.Errorf("blobs on the local disk with an S3 blob store: %v", entries)
			}
			bad := []byte("not the photo")
			_, err := tg.Client(t).PutObject(context.Background(), tg.Bucket, tg.Prefix+"/sha256/"+sha, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}

// testVerifyDetectsTampering runs the server and verify with blobFlags and
// env; alterBlob changes the bytes of the blob sha behind their backs.
func testVerifyDetectsTampering(t *testing.T, blobFlags, env []string, alterBlob func(t *testing.T, data, sha string)) {
	data := t.TempDir()
	srv := startServerEnv(t, env, data, append([]string{"--demo"}, blobFlags...)...)
	base := srv.url
	dispatcher, admin := apiLogin(t, base, "dispatcher"), apiLogin(t, base, "admin")
	var u struct{ ID string }
	apiDo(t, base, admin, "POST", "/v1/users", map[string]any{"username": "verify.inspector", "display_name": "بازرس", "role": "inspector",
		"mode": "field", "region": map[string]string{"province": demo.Province}, "password": demo.Password}, &u)
	var c struct{ ID string }
	apiDo(t, base, dispatcher, "POST", "/v1/complaints", map[string]any{"call_id": "VERIFY-1", "category": "absent_employee",
		"description": "کارمند حاضر نیست", "call_time": time.Now().UTC().Format(time.RFC3339), "office_code": "QZ-SSO-01", "priority": "normal"}, &c)
	apiDo(t, base, dispatcher, "POST", "/v1/complaints/"+c.ID+"/assign", map[string]string{"inspector_id": u.ID, "mode": "field"}, nil)
	insp := apiLogin(t, base, "verify.inspector")

	var shas []string
	for i := range 2 {
		photo := testJPEG(t, i)
		sum := sha256.Sum256(photo)
		sha := hex.EncodeToString(sum[:])
		shas = append(shas, sha)
		id := uuid.Must(uuid.NewV7()).String()
		now := time.Now()
		apiDo(t, base, insp, "POST", "/v1/sync/push", map[string]any{"mutations": []map[string]any{{
			"mutation_id": uuid.Must(uuid.NewV7()).String(), "device_seq": i + 1, "kind": "evidence.create", "record_id": id,
			"device_time": now.Format(time.RFC3339), "hlc": map[string]any{"wall_ms": now.UnixMilli(), "logical": 0},
			"payload": map[string]any{"complaint_id": c.ID, "kind": "photo", "content_type": "image/jpeg", "size": len(photo),
				"sha256": sha, "captured_at": now.Format(time.RFC3339)}}}}, nil)
		tusUpload(t, base, insp, id, sha, photo)
	}

	out := mustRun(t, "", "verify", "--data", data) // through the admin socket: the server holds the store
	if !strings.Contains(out, "evidence chain entries checked: 2") || !strings.Contains(out, "problems: 0") {
		t.Fatalf("verify of an intact store:\n%s", out)
	}
	if !strings.Contains(out, "(the running server's, through its admin socket)") {
		t.Errorf("verify does not say which bytes it checked:\n%s", out)
	}

	// Alter one blob; verify through the server's admin socket finds it,
	// and so does verify on its own once the server is stopped.
	alterBlob(t, data, shas[0])
	verifyArgs := append([]string{"verify", "--data", data}, blobFlags...)
	r := runFavad(t, env, "", verifyArgs...)
	if r.code != 1 || !strings.Contains(r.stdout, "BROKEN blob "+shas[0]) {
		t.Fatalf("verify must find the altered blob (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	srv.stop(t)
	r = runFavad(t, env, "", verifyArgs...)
	if r.code != 1 || !strings.Contains(r.stdout, "BROKEN blob "+shas[0]) || !strings.Contains(r.stdout, "blobs rehashed: 2") {
		t.Fatalf("verify without the server must find the altered blob (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Alter an evidence record in the store: its chain hash no longer covers it.
	db, err := bolt.Open(filepath.Join(data, "favad.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("evidence"))
		k, v := b.Cursor().First()
		var e map[string]any
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		e["captured_at"] = "2020-01-01T00:00:00Z"
		raw, _ := json.Marshal(e)
		return b.Put(append([]byte(nil), k...), raw)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = runFavad(t, env, "", verifyArgs...)
	if r.code != 1 || !strings.Contains(r.stdout, "its content no longer matches its hash") {
		t.Fatalf("verify must find the altered record (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// testJPEG makes a small real JPEG, different for each n.
func testJPEG(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), uint8(n * 90), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tusUpload sends data over the tus protocol in one PATCH.
func tusUpload(t *testing.T, base, token, evidenceID, sha string, data []byte) {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	req, _ := http.NewRequest("POST", base+"/v1/uploads", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(len(data)))
	req.Header.Set("Upload-Metadata", "evidence_id "+b64(evidenceID)+",sha256 "+b64(sha)+",filetype "+b64("image/jpeg"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tus create: %s", resp.Status)
	}
	req, _ = http.NewRequest("PATCH", resp.Header.Get("Location"), bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Favad-Evidence-Status") != "stored" {
		t.Fatalf("tus patch: %s, evidence %q", resp.Status, resp.Header.Get("Favad-Evidence-Status"))
	}
}

// Regression: a server killed during `favad backup` left its store-sized
// snapshot (<data>/.backup-*.tmp) for ever. verify names it; the next start
// removes it.
func TestStrayBackupSnapshotIsNamedAndRemoved(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--demo")
	srv.stop(t)
	stray := filepath.Join(data, ".backup-1234567.tmp")
	if err := os.WriteFile(stray, []byte("a snapshot cut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "", "verify", "--data", data)
	if !strings.Contains(out, "stray file "+stray) || !strings.Contains(out, "problems: 0") {
		t.Errorf("verify output:\n%s", out)
	}
	srv = startServer(t, data)
	srv.stop(t)
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("the stray snapshot is still there after a start: %v", err)
	}
}

// TestVerifyThatCannotCheckSaysSoWithItsOwnStatus: a blob store that does
// not answer is "could not check", exit 3, with the cause: not exit 1, which
// says the chain of custody is broken.
func TestVerifyThatCannotCheckSaysSoWithItsOwnStatus(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data, "--demo")
	srv.stop(t)
	r := runFavad(t, []string{"FAVAD_S3_ACCESS_KEY=k", "FAVAD_S3_SECRET_KEY=s"}, "", "verify", "--data", data,
		"--blob-store", "s3://evidence/qazvin", "--s3-endpoint", "http://127.0.0.1:1", "--s3-region", "us-east-1", "--s3-path-style")
	if r.code != exitCouldNotCheck || !strings.Contains(r.stderr, "could not check") || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("verify with a blob store that does not answer: exit %d, want %d with the cause\n%s%s", r.code, exitCouldNotCheck, r.stdout, r.stderr)
	}
}
