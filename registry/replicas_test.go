package registry

import (
	"strings"
	"testing"
	"time"
)

func TestReplicasKeys(t *testing.T) {
	c, err := Parse([]byte(`{"mcpServers": {}, "drainTimeout": "20s", "sessionMaxAge": "8h"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Drain() != 20*time.Second || c.SessionLife() != 8*time.Hour {
		t.Errorf("drain %v, session life %v; want 20s, 8h", c.Drain(), c.SessionLife())
	}
	c, err = Parse([]byte(`{"mcpServers": {}}`), nil)
	if err != nil || c.Drain() != DefaultDrainTimeout || c.SessionLife() != DefaultSessionMaxAge {
		t.Errorf("defaults: %v, %v, %v", err, c.Drain(), c.SessionLife())
	}
	for _, bad := range []string{`"drainTimeout": "10m"`, `"drainTimeout": "-1s"`, `"sessionMaxAge": "1s"`, `"sessionMaxAge": 5`} {
		c, err := Parse([]byte(`{"mcpServers": {}, `+bad+`}`), nil)
		key := strings.Split(bad, `"`)[1]
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v, want one that names %s", bad, err, key)
		}
		if c != nil && (c.Drain() != DefaultDrainTimeout || c.SessionLife() != DefaultSessionMaxAge) {
			t.Errorf("%s: a bad value was kept", bad)
		}
	}
}
