package bench

import "testing"

// usage reports nothing on Windows, which has no getrusage.
type usage struct{}

func startUsage() usage { return usage{} }

func (usage) report(*testing.B) {}
