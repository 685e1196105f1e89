package registry

import (
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	s, _ := newTestStore(t, StoreOptions{})
	puts := []struct {
		key, value string
		ttl        time.Duration
	}{
		{"hour", "v1", time.Hour},
		{"forever", "v2", 0},
		{"replaced", "old", time.Hour},
		{"replaced", "new", 0},
	}
	for _, p := range puts {
		if err := s.PutDiscovery(p.key, []byte(p.value), p.ttl); err != nil {
			t.Fatalf("PutDiscovery(%q) = %v", p.key, err)
		}
	}
	later := time.Now().Add(2 * time.Hour)
	tests := []struct {
		name   string
		now    time.Time
		key    string
		want   string
		wantOK bool
	}{
		{"fresh", time.Now(), "hour", "v1", true},
		{"no ttl", time.Now(), "forever", "v2", true},
		{"missing", time.Now(), "nope", "", false},
		{"replaced", time.Now(), "replaced", "new", true},
		{"expired", later, "hour", "", false},
		{"no ttl later", later, "forever", "v2", true},
		{"replaced without ttl later", later, "replaced", "new", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.now = func() time.Time { return tt.now }
			got, ok, err := s.GetDiscovery(tt.key)
			if string(got) != tt.want || ok != tt.wantOK || err != nil {
				t.Errorf("GetDiscovery(%q) = %q, %t, %v; want %q, %t, nil", tt.key, got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
}
