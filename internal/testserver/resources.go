package main

import (
	"fmt"
	"strings"
	"time"
)

type resource struct {
	URI      string `json:"uri"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType,omitempty"`
}

type resourceTemplate struct {
	URITemplate string `json:"uriTemplate"`
	Name        string `json:"name"`
	MimeType    string `json:"mimeType,omitempty"`
}

type resourceContents struct {
	URI      string `json:"uri"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

// updateDelay is how long after a subscribe the update notification comes.
const updateDelay = 100 * time.Millisecond

// resources lists test://<name>/res/<i> plus the -shared-uri, if any.
func (s *server) resources() []resource {
	list := []resource{}
	for i := range s.cfg.resources {
		uri := fmt.Sprintf("test://%s/res/%d", s.cfg.name, i)
		list = append(list, resource{URI: uri, Name: fmt.Sprintf("res%d", i), MimeType: "text/plain"})
	}
	if s.cfg.sharedURI != "" {
		list = append(list, resource{URI: s.cfg.sharedURI, Name: "shared", MimeType: "text/plain"})
	}
	return list
}

func (s *server) templatePrefix() string {
	return fmt.Sprintf("test://%s/tmpl/", s.cfg.name)
}

func (s *server) resourcesList(r *request) (any, *rpcError) {
	return listPage(s, r, "resources", s.resources())
}

func (s *server) templatesList(r *request) (any, *rpcError) {
	tmpl := resourceTemplate{URITemplate: s.templatePrefix() + "{id}", Name: "tmpl", MimeType: "text/plain"}
	return listPage(s, r, "resourceTemplates", []resourceTemplate{tmpl})
}

func (s *server) resourcesRead(r *request) (any, *rpcError) {
	uri, err := uriParam(r)
	if err != nil {
		return nil, err
	}
	text, ok := s.readResource(uri)
	if !ok {
		return nil, &rpcError{Code: codeResourceNotFound, Message: "resource not found", Data: map[string]string{"uri": uri}}
	}
	contents := []resourceContents{{URI: uri, MimeType: "text/plain", Text: text}}
	return map[string]any{"contents": contents}, nil
}

// readResource returns the text of uri, or false if there is no such resource.
func (s *server) readResource(uri string) (string, bool) {
	if s.cfg.sharedURI != "" && uri == s.cfg.sharedURI {
		return "from " + s.cfg.name, true
	}
	if id, ok := strings.CutPrefix(uri, s.templatePrefix()); ok && id != "" {
		return "resource " + uri, true
	}
	for _, res := range s.resources() {
		if res.URI == uri {
			return "resource " + uri, true
		}
	}
	return "", false
}

// resourcesSubscribe records uri and, once the response is out, sends one
// notifications/resources/updated after updateDelay if still subscribed.
func (s *server) resourcesSubscribe(r *request) (any, *rpcError) {
	uri, err := uriParam(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.subscribed[uri] = true
	s.mu.Unlock()
	r.after = func() {
		time.AfterFunc(updateDelay, func() { s.sendUpdated(uri) })
	}
	return empty{}, nil
}

func (s *server) sendUpdated(uri string) {
	s.mu.Lock()
	subscribed := s.subscribed[uri]
	s.mu.Unlock()
	if subscribed {
		s.notify("notifications/resources/updated", map[string]string{"uri": uri})
	}
}

func (s *server) resourcesUnsubscribe(r *request) (any, *rpcError) {
	uri, err := uriParam(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.subscribed, uri)
	s.mu.Unlock()
	return empty{}, nil
}

func uriParam(r *request) (string, *rpcError) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return "", err
	}
	if p.URI == "" {
		return "", invalidParams("missing uri")
	}
	return p.URI, nil
}
