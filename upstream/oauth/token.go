package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenError is an error response of a token endpoint (RFC 6749 §5.2).
type TokenError struct {
	Status      int
	Code        string // "invalid_grant", ...
	Description string
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("token endpoint answered HTTP %d", e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += " (" + truncate(e.Description, 200) + ")"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// tokenResponse is a token endpoint's answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    json.Number `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
	Scope        string      `json:"scope"`
	Error        string      `json:"error"`
	ErrorDesc    string      `json:"error_description"`
}

// client is how mcpmux authenticates to a token endpoint.
type client struct {
	ID, Secret string
	Method     string // client_secret_basic, client_secret_post, none
}

// tokenRequest posts form to endpoint as c and reads the token.
func tokenRequest(ctx context.Context, hc *http.Client, endpoint string, form url.Values, c client, now time.Time) (*tokenResponse, time.Time, error) {
	switch {
	case c.Secret != "" && c.Method == "client_secret_post":
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	case c.Secret != "" && c.Method != "none":
	default:
		form.Set("client_id", c.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.Secret != "" && c.Method != "client_secret_post" && c.Method != "none" {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, time.Time{}, err
	}
	var t tokenResponse
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var decodeErr error
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		v, _ := url.ParseQuery(string(body))
		t = tokenResponse{AccessToken: v.Get("access_token"), TokenType: v.Get("token_type"), ExpiresIn: json.Number(v.Get("expires_in")),
			RefreshToken: v.Get("refresh_token"), Scope: v.Get("scope"), Error: v.Get("error"), ErrorDesc: v.Get("error_description")}
	} else {
		decodeErr = json.Unmarshal(body, &t)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || t.Error != "" {
		return nil, time.Time{}, &TokenError{Status: resp.StatusCode, Code: t.Error, Description: t.ErrorDesc}
	}
	if decodeErr != nil {
		return nil, time.Time{}, fmt.Errorf("reading the token endpoint's answer: %w", decodeErr)
	}
	if t.AccessToken == "" {
		return nil, time.Time{}, errors.New("the token endpoint's answer has no access_token")
	}
	if tt := strings.ToLower(t.TokenType); tt != "" && tt != "bearer" {
		return nil, time.Time{}, fmt.Errorf("the token endpoint issued a %q token; mcpmux sends Bearer tokens only", t.TokenType)
	}
	var expiry time.Time
	if n, err := t.ExpiresIn.Int64(); err == nil && n > 0 {
		expiry = now.Add(time.Duration(n) * time.Second)
	}
	return &t, expiry, nil
}

// postForm posts form to endpoint as c and wants a 2xx.
func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values, c client) error {
	if c.Secret == "" || c.Method == "client_secret_post" || c.Method == "none" {
		form.Set("client_id", c.ID)
		if c.Secret != "" && c.Method == "client_secret_post" {
			form.Set("client_secret", c.Secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Secret != "" && c.Method != "client_secret_post" && c.Method != "none" {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
