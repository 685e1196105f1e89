package proxy_test

import (
	"testing"
	"testing/synctest"
	"time"
)

// A burst of catalogue changes reaches the client as one list_changed,
// ListChangedDelay (50ms) after the first change; nothing is sent for a
// list the client has not been answered yet, and nothing more arrives
// later.
func TestListChangedCoalescesBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const toolsChanged = "notifications/tools/list_changed"
		b := newBubble(t, `{}`, map[string]string{"a": "", "b": ""})
		b.srv.SetCatalogue("a", catalogue(`{}`, "echo"))
		b.srv.SetCatalogue("b", catalogue(`{}`, "echo"))
		synctest.Wait()
		if n := b.notifications(toolsChanged); len(n) != 0 {
			t.Fatalf("tools/list_changed before the client listed its tools: %v", n)
		}
		b.send("l1", "tools/list", `{}`)
		synctest.Wait()
		if b.answer("l1") == nil {
			t.Fatal("no answer to tools/list")
		}

		burst := b.since()
		b.srv.SetCatalogue("a", catalogue(`{}`, "echo", "added"))
		time.Sleep(20 * time.Millisecond)
		b.srv.SetCatalogue("b", catalogue(`{}`, "echo", "added"))
		time.Sleep(20 * time.Millisecond)
		b.srv.SetCatalogue("a", catalogue(`{}`, "echo", "added", "again"))
		synctest.Wait()
		if n := b.notifications(toolsChanged); len(n) != 0 {
			t.Fatalf("tools/list_changed within the delay: %v", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		got := b.notifications(toolsChanged)
		if len(got) != 1 {
			t.Fatalf("%d tools/list_changed for one burst, want 1: %v", len(got), got)
		}
		if d := got[0].at - burst; d != 50*time.Millisecond {
			t.Errorf("tools/list_changed %s after the burst began, want 50ms", d)
		}
		if n := b.notifications("notifications/prompts/list_changed"); len(n) != 0 {
			t.Errorf("prompts/list_changed for a change of tools only: %v", n)
		}
	})
}
