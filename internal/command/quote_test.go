package command

import "testing"

// TestMakeBatLine: arguments to a batch file reach cmd.exe quoted so that
// none of them can end the quoting and run a command of its own, and no
// %NAME% in them is expanded.
func TestMakeBatLine(t *testing.T) {
	const shell, script = `C:\Windows\system32\cmd.exe`, `C:\Program Files\nodejs\npx.cmd`
	prefix := shell + ` /e:ON /v:OFF /d /c ""` + script + `"`
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"none", nil, prefix + `"`},
		{"plain", []string{"-y", "@scope/pkg@1.2.3"}, prefix + ` -y @scope/pkg@1.2.3"`},
		{"space", []string{`C:\Users\you\My Files`}, prefix + ` "C:\Users\you\My Files""`},
		{"empty", []string{""}, prefix + ` """`},
		{"trailing backslash", []string{`C:\dir\`}, prefix + ` "C:\dir\\""`},
		{"quote and ampersand", []string{`" & calc.exe`}, prefix + ` """ & calc.exe""`},
		{"percent", []string{"%PATH%"}, prefix + ` "%%cd:~,%PATH%%cd:~,%""`},
		{"backslashes before quote", []string{`a\\"b`}, prefix + ` "a\\\\""b""`},
		{"non-ASCII", []string{"café"}, prefix + ` café"`},
		{"pipe", []string{"a|b"}, prefix + ` "a|b""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := makeBatLine(shell, script, tt.args)
			if err != nil {
				t.Fatalf("makeBatLine(%q) error: %v", tt.args, err)
			}
			if got != tt.want {
				t.Errorf("makeBatLine(%q) =\n %s\nwant\n %s", tt.args, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"a\nb", "a\rb"} {
		if _, err := makeBatLine(shell, script, []string{bad}); err == nil {
			t.Errorf("makeBatLine(%q) = nil error, want one: a line break ends cmd.exe's command", bad)
		}
	}
	if _, err := makeBatLine(shell, `C:\x"y.cmd`, nil); err == nil {
		t.Errorf("makeBatLine with a quote in the script's path = nil error, want one")
	}
}
