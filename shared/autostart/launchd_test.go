package autostart

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"testing"
)

// plistEntry carries every character XML must escape.
var plistEntry = Entry{
	Name: "Idlegrid",
	Exec: "/Applications/Idle & Grid.app/Contents/MacOS/idlegrid",
	Args: []string{"--minimized", `--profile=<"rig's">`, "a\tb"},
}

func TestLaunchAgentPlistGolden(t *testing.T) {
	checkGolden(t, "io.idlegrid.idlegrid.plist", launchAgentPlist(plistEntry))
}

// Whatever the arguments, the plist is well-formed and carries them back
// unchanged, which is what launchd will pass to the program.
func TestLaunchAgentPlistRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry Entry
	}{
		{"special characters", plistEntry},
		{"no arguments", Entry{Name: "Idlegrid", Exec: "/Applications/Idlegrid.app/Contents/MacOS/idlegrid"}},
		{"markup in arguments", Entry{Name: "Ig Dev", Exec: "/x", Args: []string{"</string></array>", "]]>", "&amp;"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, argv := decodePlist(t, launchAgentPlist(tc.entry))
			if want := launchdLabel(tc.entry.Name); label != want {
				t.Errorf("Label = %q, want %q", label, want)
			}
			want := append([]string{tc.entry.Exec}, tc.entry.Args...)
			if !slices.Equal(argv, want) {
				t.Errorf("ProgramArguments = %q, want %q", argv, want)
			}
		})
	}
}

// decodePlist reads the Label and ProgramArguments back with a real XML
// parser.
func decodePlist(t *testing.T, data []byte) (label string, argv []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var key, text string
	depth, inArgs := 0, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return label, argv
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			text = ""
			if tok.Name.Local == "array" && key == "ProgramArguments" {
				inArgs = true
			}
		case xml.CharData:
			text += string(tok)
		case xml.EndElement:
			depth--
			switch tok.Name.Local {
			case "key":
				key = text
			case "array":
				inArgs = false
			case "string":
				if inArgs {
					argv = append(argv, text)
				} else if key == "Label" {
					label = text
				}
			}
		}
	}
}
