// upload.mjs: one upload with tus-js-client, the way a field device sends
// evidence, for server/tus_test.go.
//
//   node upload.mjs '<json config>'      (or the config in $TUS_UPLOAD_CONFIG)
//
// Config: {
//   "endpoint": "http://127.0.0.1:1234/v1/uploads",
//   "file": "/path/to/photo.jpg",
//   "token": "<access token>",             // sent as Authorization: Bearer …; omit for none
//   "metadata": {"evidence_id": "…", "sha256": "…", "filetype": "image/jpeg"},
//   "chunkSize": 1048576,                  // optional; default the whole file
//   "retryDelays": [0, 200, 500],          // optional; default none (no retry)
//   "uploadUrl": "http://…/v1/uploads/…",  // optional: resume this upload
//   "source": "stream" | "buffer",         // optional; default "stream"
//   "uploadDataDuringCreation": true       // optional: the first chunk goes with the POST
// }
//
// Prints one JSON line and exits 0 on success, 1 otherwise:
//   {"ok": true, "url": "…", "status": 204, "evidenceStatus": "stored", "bytesSent": …}
//   {"ok": false, "url": "…", "error": "…", "status": 460, "body": "…", "evidenceStatus": …}
import fs from 'node:fs'
import process from 'node:process'

import tus from 'tus-js-client'

function fail(message) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`)
  process.exit(1)
}

let cfg
try {
  cfg = JSON.parse(process.argv[2] ?? process.env.TUS_UPLOAD_CONFIG ?? '')
} catch (err) {
  fail(`config: ${err.message}`)
}
if (!cfg.file || !(cfg.endpoint || cfg.uploadUrl)) {
  fail('config needs "file" and "endpoint" (or "uploadUrl")')
}

const size = fs.statSync(cfg.file).size
const chunkSize = cfg.chunkSize ?? Number.POSITIVE_INFINITY
// A stream of a file on disk (fs.ReadStream with a path) lets the client
// re-read any range when it resumes; a Buffer is the other Node source.
const source = cfg.source === 'buffer' ? fs.readFileSync(cfg.file) : fs.createReadStream(cfg.file)

let maxSent = 0
let progressCalls = 0
let finished = false

function finish(result, code) {
  if (finished) return
  finished = true
  result.bytesSent = maxSent
  result.progressCalls = progressCalls
  process.stdout.write(`${JSON.stringify(result)}\n`)
  // Leave once the line is written; keep-alive sockets would hold the loop open.
  process.exitCode = code
  setImmediate(() => process.exit(code))
}

const upload = new tus.Upload(source, {
  endpoint: cfg.endpoint,
  uploadUrl: cfg.uploadUrl ?? null,
  headers: cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {},
  metadata: cfg.metadata ?? {},
  uploadSize: size,
  chunkSize,
  retryDelays: cfg.retryDelays ?? null,
  uploadDataDuringCreation: cfg.uploadDataDuringCreation ?? false,
  // The server hashes the bytes itself; nothing to gain from resuming by fingerprint here.
  storeFingerprintForResuming: false,
  removeFingerprintOnSuccess: true,
  onProgress(sent) {
    progressCalls++
    if (sent > maxSent) maxSent = sent
  },
  onError(err) {
    const res = err.originalResponse ?? null
    finish(
      {
        ok: false,
        url: upload.url,
        error: String(err.message ?? err),
        status: res ? res.getStatus() : 0,
        body: res ? res.getBody() : '',
        evidenceStatus: res ? (res.getHeader('Favad-Evidence-Status') ?? null) : null,
      },
      1,
    )
  },
  onSuccess({ lastResponse }) {
    finish(
      {
        ok: true,
        url: upload.url,
        status: lastResponse ? lastResponse.getStatus() : 0,
        evidenceStatus: lastResponse ? (lastResponse.getHeader('Favad-Evidence-Status') ?? null) : null,
      },
      0,
    )
  },
})

upload.start()
