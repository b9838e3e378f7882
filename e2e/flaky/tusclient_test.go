package flaky_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/favad/favad/internal/tusjs"
)

// tusClient runs server/testdata/tusclient/upload.mjs: the stock
// tus-js-client under Node.js, as a phone's app sends evidence.
type tusClient struct{ *tusjs.Client }

type tusRun = tusjs.Run

// findTusClient finds node and the installed tus-js-client. Without them it
// returns nil, and the test goes on without photos, unless
// FAVAD_REQUIRE_NODE is set (as in CI), when it fails.
func findTusClient(t *testing.T) *tusClient {
	t.Helper()
	c, err := tusjs.Find(filepath.Join("..", "..", "server", "testdata", "tusclient"))
	if err != nil {
		if os.Getenv("FAVAD_REQUIRE_NODE") != "" {
			t.Fatal("FAVAD_REQUIRE_NODE is set but " + err.Error())
		}
		t.Log("the shift goes on without photos: " + err.Error())
		return nil
	}
	return &tusClient{c}
}

// upload runs one upload to its end (success or the client giving up).
func (c *tusClient) upload(t *testing.T, run tusRun) tusjs.Outcome {
	t.Helper()
	return c.Upload(t, 2*time.Minute, run)
}
