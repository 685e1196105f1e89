package proxy

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/upstream/oauth"
)

// CodeURLElicitationRequired is the error of a request that cannot go on
// until the person opens a URL (MCP 2025-11-25).
const CodeURLElicitationRequired = -32042

// loginElicitation turns a call's failure for want of an upstream's OAuth
// login into the URL elicitation error, for a client that declared URL
// elicitation, when a login waits in this process for that URL to be
// opened. Anything else is returned as it is: the error then names
// `mcpmux login SERVER`.
func (sess *session) loginElicitation(err error) error {
	var login *oauth.NeedsLoginError
	if !errors.As(err, &login) || login.URL == "" {
		return err
	}
	caps := sess.GetClientCapabilities()
	if caps.Elicitation == nil || caps.Elicitation.URL == nil {
		return err
	}
	msg := fmt.Sprintf("Log in to %s to use its tools (or run `%s`).", login.Server, login.Command())
	data, _ := json.Marshal(map[string]any{"elicitations": []map[string]string{{
		"mode":          "url",
		"elicitationId": "mcpmux-login-" + rand.Text(),
		"url":           login.URL,
		"message":       msg,
	}}})
	return &jsonrpc.Error{Code: CodeURLElicitationRequired, Message: err.Error(), Data: data}
}
