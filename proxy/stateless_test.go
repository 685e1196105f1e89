package proxy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
)

const statelessMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// Results for a 2026-07-28 client carry what that revision requires:
// resultType on every result, ttlMs and cacheScope on lists and reads.
// Results for a client on an older revision stay as they are.
func TestStatelessResultsCarryRequiredFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, `{}`, map[string]string{"a": ""})
		b.srv.SetCatalogue("a", catalogue(`{}`, "echo"))
		for _, method := range []string{"tools/list", "prompts/list", "resources/list", "resources/templates/list"} {
			b.send("m-"+method, method, `{`+statelessMeta+`}`)
			b.send("l-"+method, method, `{}`)
		}
		b.send("m-call", "tools/call", `{"name":"a__echo",`+statelessMeta+`}`)
		synctest.Wait()
		for _, method := range []string{"tools/list", "prompts/list", "resources/list", "resources/templates/list"} {
			var modern struct{ Result map[string]json.RawMessage }
			_ = json.Unmarshal(b.answer("m-"+method), &modern)
			if got := string(modern.Result["resultType"]) + " " + string(modern.Result["ttlMs"]) + " " + string(modern.Result["cacheScope"]); got != `"complete" 0 "private"` {
				t.Errorf("%s for a 2026-07-28 client: resultType, ttlMs, cacheScope = %s, want \"complete\" 0 \"private\"", method, got)
			}
			legacy := string(b.answer("l-" + method))
			if strings.Contains(legacy, "resultType") || strings.Contains(legacy, "ttlMs") || strings.Contains(legacy, "cacheScope") {
				t.Errorf("%s for a 2025-11-25 client = %s, want no 2026-07-28 fields", method, legacy)
			}
		}
		var call struct{ Result map[string]json.RawMessage }
		_ = json.Unmarshal(b.answer("m-call"), &call)
		if string(call.Result["resultType"]) != `"complete"` || call.Result["ttlMs"] != nil {
			t.Errorf("tools/call result for a 2026-07-28 client = %s, want resultType and no caching hints", b.answer("m-call"))
		}
	})
}

// A request on a protocol version mcpmux does not know gets -32022 with
// the versions it supports.
func TestStatelessUnsupportedVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, `{}`, map[string]string{"a": ""})
		b.srv.SetCatalogue("a", catalogue(`{}`, "echo"))
		b.send("v", "tools/list", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}`)
		synctest.Wait()
		var r struct {
			Error struct {
				Code int
				Data struct {
					Supported []string
					Requested string
				}
			}
		}
		_ = json.Unmarshal(b.answer("v"), &r)
		if r.Error.Code != -32022 || r.Error.Data.Requested != "2099-01-01" || len(r.Error.Data.Supported) == 0 || r.Error.Data.Supported[0] != "2026-07-28" {
			t.Errorf("tools/list on 2099-01-01 = %s, want -32022 with supported and requested", b.answer("v"))
		}
	})
}
