package server_test

// Benchmarks of device pushes over HTTP on loopback, through the real server
// on a real bbolt file (docs/benchmarks.md, "Push write amplification"):
//
//	go test -run '^$' -bench 'PushHTTP' -benchtime=3x ./server/
//
// one_device=10000x100 is one device pushing 10,000 notes in 100 pushes of
// 100, one after the other; devices=100x50 is 100 devices of one inspector
// pushing 50 notes each, one push each, all at once. Each iteration is one
// such round on the same store; the mutations are built before the timer
// runs. The figures are compared across builds (the same command on two
// commits, alternately), not within one binary.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	stdsync "sync"
	"testing"
	"time"
)

func BenchmarkPushHTTP(b *testing.B) {
	b.Run("one_device=10000x100", func(b *testing.B) { benchPushHTTP(b, 1, 100, 100) })
	b.Run("devices=100x50", func(b *testing.B) { benchPushHTTP(b, 100, 1, 50) })
}

// benchPushHTTP has devices devices each send pushes pushes of perPush
// notes, b.N rounds, and reports mutations/s and seconds per round.
func benchPushHTTP(b *testing.B, devices, pushes, perPush int) {
	u := newUploadBench(b, 1024)
	bearer := make([]string, devices)
	for d := range bearer {
		var tk tokens
		u.jsonCall("POST", "/v1/auth/login", "", nil, map[string]string{"username": "field", "password": testPassword, "device_id": fmt.Sprintf("bench-push-%03d", d)}, http.StatusOK, &tk)
		bearer[d] = tk.AccessToken
	}
	text := "مدیر شعبه حاضر نبود و مراجعان در صف بودند؛ "
	for len(text) < 280 {
		text += "مراجعان منتظر ماندند. "
	}
	seqs := make([]uint64, devices)
	var elapsed time.Duration
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		bodies := make([][][]byte, devices)
		now := time.Now()
		for d := range devices {
			for range pushes {
				muts := make([]map[string]any, perPush)
				for i := range muts {
					seqs[d]++
					muts[i] = mutation(seqs[d], "note.create", v7(), 0, map[string]any{
						"complaint_id": u.complaint, "text": text, "written_at": now.UTC().Format(time.RFC3339)}, now)
				}
				raw, err := json.Marshal(map[string]any{"mutations": muts})
				if err != nil {
					b.Fatal(err)
				}
				bodies[d] = append(bodies[d], raw)
			}
		}
		errs := make([]error, devices)
		var wg stdsync.WaitGroup
		b.StartTimer()
		start := time.Now()
		for d := range devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, body := range bodies[d] {
					if err := benchPushOnce(u, bearer[d], body, perPush); err != nil {
						errs[d] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	muts := float64(b.N * devices * pushes * perPush)
	b.ReportMetric(muts/elapsed.Seconds(), "mutations/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/round")
}

// benchPushOnce sends one push and checks that every note was applied.
func benchPushOnce(u *uploadBench, token string, body []byte, want int) error {
	req, err := http.NewRequest("POST", u.ts.URL+"/v1/sync/push", bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range syncHeaders {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := u.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push: %d: %s", resp.StatusCode, got)
	}
	var res pushJSON
	if err := json.Unmarshal(got, &res); err != nil {
		return err
	}
	if len(res.Results) != want {
		return fmt.Errorf("push: %d results, want %d", len(res.Results), want)
	}
	for _, r := range res.Results {
		if r.Status != "applied" || r.Replayed {
			return fmt.Errorf("push: %+v", r)
		}
	}
	return nil
}
