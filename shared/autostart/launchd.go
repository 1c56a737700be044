package autostart

import (
	"bytes"
	"encoding/xml"
)

// labelPrefix puts LaunchAgent labels under the app's reverse-DNS ID
// (FyneApp.toml: io.idlegrid.desktop), so they cannot clash with other
// vendors' agents.
const labelPrefix = "io.idlegrid."

// launchdLabel is the LaunchAgent label, which also names its plist file.
func launchdLabel(name string) string { return labelPrefix + slug(name) }

// launchAgentPlist renders the LaunchAgent property list for e. RunAtLoad
// starts it when launchd loads the user's agents at login;
// LimitLoadToSessionType=Aqua keeps it to graphical logins (not ssh), and
// ProcessType=Interactive tells macOS a person is waiting on it rather than
// treating it as a throttled background job.
func launchAgentPlist(e Entry) []byte {
	var b bytes.Buffer
	str := func(indent, s string) {
		b.WriteString(indent + "<string>")
		// EscapeText escapes what XML needs and replaces characters XML
		// cannot carry, so any argument yields a well-formed plist.
		xml.EscapeText(&b, []byte(s))
		b.WriteString("</string>\n")
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
`)
	str("\t", launchdLabel(e.Name))
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{e.Exec}, e.Args...) {
		str("\t\t", a)
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
	return b.Bytes()
}
