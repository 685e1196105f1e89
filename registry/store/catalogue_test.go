package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

func TestStoreCatalogueRoundTrip(t *testing.T) {
	s, dir := newTestStore(t, Options{})
	want := registry.Catalogue{
		ProtocolVersion: "2025-06-18",
		ServerInfo:      json.RawMessage(`{"name":"odd",  "version" : "1.0", "_meta":{}}`),
		Capabilities:    json.RawMessage("{\n\t\"tools\": {\"listChanged\": true},\n\t\"zzz\":[ 1,2 ]\n}"),
		Instructions:    "Use <b>carefully</b> & \"quote\"",
		Tools: []json.RawMessage{
			json.RawMessage(`{ "name" : "search", "description":"<html> & \u00e9", "inputSchema":{"type":"object"}}`),
			json.RawMessage(`{"z":1,"a":2,"name":"fetch","x-extra":[null, true, 1.50e3]}`),
		},
		Prompts:            []json.RawMessage{json.RawMessage(`{"name":"p"}`)},
		Resources:          []json.RawMessage{json.RawMessage("{\"uri\":\"file:///x\"   }")},
		ResourceTemplates:  []json.RawMessage{json.RawMessage(`{"uriTemplate":"file:///{path}"}`)},
		Fetched:            time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC),
		ClientCapabilities: json.RawMessage(`{"roots":{"listChanged":true}}`),
		Fingerprint:        "abc123",
	}
	if err := s.SaveCatalogue("a/b", want); err != nil {
		t.Fatalf("SaveCatalogue = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, Options{})
	got, ok, err := s.LoadCatalogue("a/b")
	if !ok || err != nil {
		t.Fatalf("LoadCatalogue(a/b) = _, %t, %v; want true, nil", ok, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadCatalogue(a/b) = %+v\nwant %+v", got, want)
	}
	for i := range want.Tools {
		if !bytes.Equal(got.Tools[i], want.Tools[i]) {
			t.Errorf("Tools[%d] = %s, want %s", i, got.Tools[i], want.Tools[i])
		}
	}
	if _, ok, err := s.LoadCatalogue("a"); ok || err != nil {
		t.Errorf("LoadCatalogue(a) = _, %t, %v; want false, nil", ok, err)
	}
}

func TestStoreCatalogueInvalidRaw(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	c := registry.Catalogue{Tools: []json.RawMessage{json.RawMessage(`{"name":`)}}
	if err := s.SaveCatalogue("a", c); err == nil {
		t.Errorf("SaveCatalogue with invalid tool JSON = nil, want an error")
	}
}

// marshalCatalogue lists registry.Catalogue's fields by hand; this catches a new one.
func TestStoreCatalogueFields(t *testing.T) {
	if n := reflect.TypeFor[registry.Catalogue]().NumField(); n != 11 {
		t.Errorf("registry.Catalogue has %d fields, marshalCatalogue writes 11: update it", n)
	}
}
