// Package console holds the web console's files (HTML, CSS, JavaScript, the
// Vazirmatn font), embedded in the binary so that the console needs no CDN,
// no internet and no build step: the server serves them as they are.
package console

import "embed"

// Files is the console: index.html at the root, assets under css/, js/ and fonts/.
//
//go:embed static
var Files embed.FS
