package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/proxy/httpserve"
)

func TestCheckHTTP(t *testing.T) {
	tests := []struct {
		name, addr, token string
		want              string // part of the error; "" for none
	}{
		{"loopback without a token", "127.0.0.1:8080", "", ""},
		{"loopback with a token", "localhost:0", "a-long-token", ""},
		{"every address without a token", "0.0.0.0:8080", "", "needs a token"},
		{"empty host without a token", ":8080", "", "needs a token"},
		{"a LAN address without a token", "192.168.1.5:8080", "", "needs a token"},
		{"every address with a token", "0.0.0.0:8080", "a-long-token", ""},
		{"a token too short to mask", "127.0.0.1:8080", "abc", "at least 6"},
		{"no port", "127.0.0.1", "", "want host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHTTP(tt.addr, tt.token)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkHTTP(%q) = %v, want nil", tt.addr, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("checkHTTP(%q) = %v, want an error with %q", tt.addr, err, tt.want)
			}
			if strings.Contains(tt.want, "token") && !errors.Is(err, httpserve.ErrNeedsToken) {
				t.Errorf("checkHTTP(%q) = %v, want ErrNeedsToken", tt.addr, err)
			}
			if tt.token != "" && err != nil && strings.Contains(err.Error(), tt.token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
