package browser

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
)

// letterPNG writes a small PNG, an office's scanned letter, into dir.
func letterPNG(t *testing.T, dir string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		img.Set(x, x%30, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	path := filepath.Join(dir, "letter.png")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

// officeAnswering refers a complaint to the office, signs its liaison in and
// fills the answer (the action, a text and the letter), ready to send.
func officeAnswering(t *testing.T) (*env, *tab, complaintJSON) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی و تنها یک باجه باز است")
	e.api("POST", "/v1/complaints/"+c.ID+"/refer", e.token("dispatcher"), map[string]string{}, nil)
	b := newTab(t, e.ts.URL)
	b.login("office", testseed.Password)
	b.waitText("صف طولانی و تنها یک باجه باز است")
	b.click("the action "+b.label("office.action.corrected"), `return $all("input[type=radio]").find((r) => $name(r).includes(`+jsq(b.label("office.action.corrected"))+`));`)
	b.click("the answer's text", `return $control(`+jsq(b.label("office.text"))+`);`)
	b.keys("دو باجه دیگر باز شد؛ نامه مدیر شعبه پیوست است")
	b.run("choosing the letter", chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{letterPNG(t, t.TempDir())}))
	return e, b, c
}

type evidenceJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Note   string `json:"note"`
}

func (e *env) answerEvidence(t *testing.T, complaintID string) []evidenceJSON {
	t.Helper()
	var c struct {
		Referral struct {
			Answer struct {
				EvidenceIDs []string `json:"evidence_ids"`
			} `json:"answer"`
		} `json:"referral"`
	}
	e.api("GET", "/v1/complaints/"+complaintID, e.token("dispatcher"), nil, &c)
	var out []evidenceJSON
	for _, id := range c.Referral.Answer.EvidenceIDs {
		var ev evidenceJSON
		e.api("GET", "/v1/evidence/"+id, e.token("dispatcher"), nil, &ev)
		out = append(out, ev)
	}
	return out
}

// TestOfficeAnswerSentAgainAfterALostReply: the answer reaches the server
// but its reply is lost on the way back; the liaison, told the server could
// not be reached, sends again: the same answer is recognised, its letter
// uploaded, and the card shows the answer, nothing recorded twice.
func TestOfficeAnswerSentAgainAfterALostReply(t *testing.T) {
	e, b, c := officeAnswering(t)
	// The first answer's reply is lost: the request goes, its answer does not come back.
	b.loseNextAnswer("POST", "/referral/answer")
	b.clickButton(b.label("office.send"))
	b.wait("the network error", `return document.querySelector("#main .error")?.textContent.length > 0;`)
	require.Equal(t, "referral_answered", e.getComplaint(c.ID).Status, "the first answer was recorded")

	b.clickButton(b.label("office.send"))
	b.wait("the answer on the card", `return document.getElementById("main").innerText.includes(`+jsq(b.label("status.referral_answered"))+`);`)
	require.Eventually(t, func() bool {
		evs := e.answerEvidence(t, c.ID)
		return len(evs) == 1 && evs[0].Status == "stored"
	}, 15*time.Second, 100*time.Millisecond, "the letter uploaded")
	assert.Equal(t, "letter.png", e.answerEvidence(t, c.ID)[0].Note, "the file's name kept with it")
	var withHistory struct {
		History []struct{ Action string } `json:"history"`
	}
	e.api("GET", "/v1/complaints/"+c.ID, e.token("dispatcher"), nil, &withHistory)
	answers := 0
	for _, h := range withHistory.History {
		if h.Action == "referral_answered" {
			answers++
		}
	}
	assert.Equal(t, 1, answers, "one answer recorded")
	assert.Equal(t, "c-"+c.ID, eval[string](b, `return $active()?.id;`), "the focus on the answered card's heading")
}

// TestOfficeChoosesAMissingFileAgain: the answer went, its letter's upload
// failed, and the page was closed before the retry. The next day the card
// says the letter never arrived and takes the same file again; another file
// is refused.
func TestOfficeChoosesAMissingFileAgain(t *testing.T) {
	e, b, c := officeAnswering(t)
	eval[bool](b, `const real = window.fetch;
		window.fetch = async (url, opts) => {
			if (String(url).includes("/v1/uploads")) throw new TypeError("Failed to fetch");
			return real(url, opts);
		}; return true;`)
	b.clickButton(b.label("office.send"))
	b.waitText(strings.ReplaceAll(b.label("office.uploadFailed"), "{name}", "letter.png"))
	b.run("a reload", chromedp.Reload())
	b.wait("the office's list", `return !!document.getElementById("office-show");`)
	b.click("the answered list", `return document.getElementById("office-show");`)
	eval[bool](b, `const s = document.getElementById("office-show"); s.value = "all"; s.dispatchEvent(new Event("change")); return true;`)
	missing := strings.ReplaceAll(b.label("office.missing"), "{name}", "letter.png")
	b.waitText(missing)

	other := filepath.Join(t.TempDir(), "other.png")
	require.NoError(t, os.WriteFile(other, []byte("\x89PNG\r\n\x1a\nnot the letter"), 0o600))
	b.run("choosing another file", chromedp.SetUploadFiles(chromedp.CSS(`.missing-upload input[type=file]`), []string{other}))
	b.waitText(b.label("office.notTheFile"))

	b.run("choosing the letter again", chromedp.SetUploadFiles(chromedp.CSS(`.missing-upload input[type=file]`), []string{letterPNG(t, t.TempDir())}))
	b.waitText(strings.ReplaceAll(b.label("office.uploaded"), "{name}", "letter.png"))
	evs := e.answerEvidence(t, c.ID)
	require.Len(t, evs, 1)
	assert.Equal(t, "stored", evs[0].Status)
}

// TestOfficeAnswerAlreadyGiven: a colleague (or another tab) answered while
// this form stood open; sending says so and shows the answer on record.
func TestOfficeAnswerAlreadyGiven(t *testing.T) {
	e, b, c := officeAnswering(t)
	e.api("POST", "/v1/complaints/"+c.ID+"/referral/answer", e.token("office"), map[string]string{"action": "not_confirmed", "text": "همکار پاسخ داد: همه حاضر بودند"}, nil)
	b.clickButton(b.label("office.send"))
	b.waitText(b.label("office.alreadyAnswered"))
	b.waitText("همکار پاسخ داد: همه حاضر بودند")
}
