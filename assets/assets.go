// Package assets embeds the files the binaries serve or show: web templates
// and static files for the console, and the API's OpenAPI document.
package assets

import (
	"embed"
	_ "embed"
)

// OpenAPI is the API description, checked against the real routes by a test.
//
//go:embed openapi.json
var OpenAPI []byte

// Icon is the app icon (FyneApp.toml points at the same file).
//
//go:embed icon.png
var Icon []byte

// Web holds the console's templates (web/templates) and static files
// (web/static).
//
//go:embed web
var Web embed.FS
