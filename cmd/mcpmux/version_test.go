package main

import "testing"

// A release build's stamped version is what version prints, and what
// serve reports (both call version()).
func TestVersionStamped(t *testing.T) {
	old := buildVersion
	buildVersion = "v1.2.3-rc.1"
	t.Cleanup(func() { buildVersion = old })
	if out, _, err := runLine(t, "version"); err != nil || out != "mcpmux v1.2.3-rc.1\n" {
		t.Errorf("mcpmux version = %q, %v, want %q", out, err, "mcpmux v1.2.3-rc.1\n")
	}
}
