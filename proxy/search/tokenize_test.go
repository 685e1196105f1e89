package search

import (
	"slices"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"snake", "get_file_info", []string{"get", "file", "info"}},
		{"camel", "getFileInfo", []string{"get", "file", "info", "getfileinfo"}},
		{"camel in prose", "Execute JavaScript on GitHub", []string{"execut", "java", "script", "javascript", "git", "hub", "github"}},
		{"kebab", "list-allowed-directories", []string{"list", "allow", "directori"}},
		{"acronym", "HTTPServer v2", []string{"http", "server", "httpserver", "v", "2"}},
		{"stop words", "Show me the files in this folder", []string{"show", "file", "folder"}},
		{"cjk bigrams", "获取天气预报", []string{"获取", "取天", "天气", "气预", "预报"}},
		{"cjk lone", "表 table", []string{"表", "tabl"}},
		{"accents", "créer_événement", []string{"créer", "événement"}},
		{"mixed", "读取file内容", []string{"读取", "file", "内容"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			tokens(tc.text, func(w []byte, plain bool) {
				if term := term(w, plain); term != "" {
					got = append(got, term)
				}
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("tokens(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestStem(t *testing.T) {
	for w, want := range map[string]string{
		"listing": "list", "lists": "list", "listed": "list", "directories": "directori", "directory": "directori",
		"relational": "relat", "running": "run", "files": "file", "creating": "creat", "created": "creat", "hopeful": "hope",
	} {
		if got := stem(w); got != want {
			t.Errorf("stem(%q) = %q, want %q", w, got, want)
		}
	}
}

func TestIndexUpdatesInPlace(t *testing.T) {
	x := New()
	x.Put(Doc{Name: "a__read_file", Server: "a", Tool: "read_file", Text: [numFields]string{FieldDescription: "Read a file from disk"}})
	x.Put(Doc{Name: "b__send_mail", Server: "b", Tool: "send_mail", Text: [numFields]string{FieldDescription: "Send an email"}})
	if hits := x.Search("read a file", 5, ""); len(hits) != 1 || hits[0].Name != "a__read_file" {
		t.Fatalf("Search = %v", hits)
	}
	x.Put(Doc{Name: "a__read_file", Server: "a", Tool: "read_file", Text: [numFields]string{FieldDescription: "Fetch a web page"}})
	if hits := x.Search("disk", 5, ""); len(hits) != 0 {
		t.Errorf("Search(disk) after the change = %v", hits)
	}
	x.Delete("b__send_mail")
	if hits := x.Search("email", 5, ""); len(hits) != 0 || x.Len() != 1 {
		t.Errorf("Search(email) after Delete = %v, Len %d", hits, x.Len())
	}
	x.Put(Doc{Name: "c__remove", Server: "c", Tool: "remove", Text: [numFields]string{FieldDescription: "Delete a record"}})
	if hits := x.Search("erase a record", 5, "c"); len(hits) != 1 {
		t.Errorf("Search(erase, server c) = %v, want the synonym's match", hits)
	}
}

// Chinese descriptions are found by Chinese queries (pairs of characters)
// and by the English words of the synonym table.
func TestSearchChinese(t *testing.T) {
	x := New()
	for name, desc := range map[string]string{
		"weather__forecast": "获取指定城市的天气预报，包括温度和降水概率",
		"web__search":       "搜索网页内容并返回摘要",
		"mail__send":        "发送电子邮件给指定的收件人",
		"files__read":       "读取本地文件的内容",
	} {
		x.Put(Doc{Name: name, Server: name[:strings.Index(name, "__")], Tool: name[strings.Index(name, "__")+2:], Text: [numFields]string{FieldDescription: desc}})
	}
	for query, want := range map[string]string{
		"查询北京的天气":             "weather__forecast",
		"帮我搜索一下网页":            "web__search",
		"给同事发一封邮件":            "mail__send",
		"读取文件":                "files__read",
		"what is the weather": "weather__forecast",
	} {
		if hits := x.Search(query, 3, ""); len(hits) == 0 || hits[0].Name != want {
			t.Errorf("Search(%q) = %v, want %s first", query, hits, want)
		}
	}
}
