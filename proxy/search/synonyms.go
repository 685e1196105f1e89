package search

import "sync"

// synonymGroups are words that ask for the same thing in tool requests.
// They are general English (and the Chinese most tool descriptions use),
// not tuned to any catalogue: a query term also finds the other words of
// its groups, with a lower weight than itself.
var synonymGroups = [][]string{
	{"get", "fetch", "retrieve", "obtain", "获取", "查询", "查看"},
	{"read", "load", "open", "view", "读取", "打开"},
	{"show", "display", "view", "print", "显示", "展示"},
	{"list", "enumerate", "列出", "列表"},
	{"search", "find", "query", "lookup", "locate", "搜索", "查找", "检索", "查询"},
	{"delete", "remove", "erase", "destroy", "drop", "删除", "移除"},
	{"create", "add", "new", "make", "insert", "创建", "新建", "添加"},
	{"update", "modify", "edit", "change", "alter", "patch", "修改", "更新", "编辑"},
	{"write", "save", "store", "persist", "写入", "保存"},
	{"run", "execute", "invoke", "launch", "执行", "运行"},
	{"send", "post", "publish", "发送"},
	{"move", "rename", "relocate", "移动"},
	{"copy", "duplicate", "clone", "复制"},
	{"download", "fetch", "下载"},
	{"upload", "上传"},
	{"start", "begin", "open", "开始", "启动"},
	{"stop", "end", "close", "halt", "停止", "关闭"},
	{"file", "document", "文件", "文档"},
	{"folder", "directory", "dir", "目录"},
	{"image", "picture", "photo", "screenshot", "图片", "图像"},
	{"web", "page", "url", "website", "link", "网页", "链接"},
	{"message", "msg", "chat", "消息"},
	{"user", "account", "member", "用户", "账号"},
	{"issue", "ticket", "bug", "问题"},
	{"database", "db", "数据库"},
	{"table", "表"},
	{"record", "row", "entry", "记录"},
	{"time", "clock", "date", "时间", "日期"},
	{"weather", "forecast", "天气"},
	{"price", "cost", "价格"},
	{"translate", "convert", "翻译", "转换"},
	{"summary", "summarize", "摘要", "总结"},
	{"size", "large", "big", "大小"},
	{"note", "memo", "笔记"},
	{"map", "location", "place", "地图", "位置"},
	{"email", "mail", "邮件"},
	{"calendar", "event", "schedule", "日历", "日程"},
	{"stock", "share", "股票"},
	{"news", "新闻"},
	{"video", "视频"},
	{"code", "source", "代码"},
	{"repository", "repo", "仓库"},
	{"commit", "提交"},
	{"branch", "分支"},
}

// expansion is a query term's synonyms, as terms.
type expansion struct {
	once sync.Once
	m    map[string][]string
}

var synonyms expansion

// of returns the terms that share a group with term (itself left out).
func (e *expansion) of(t string) []string {
	e.once.Do(func() {
		e.m = map[string][]string{}
		for _, g := range synonymGroups {
			var terms []string
			for _, w := range g {
				tokens(w, func(word []byte, plain bool) {
					if t := term(word, plain); t != "" {
						terms = append(terms, t)
					}
				})
			}
			for _, t := range terms {
				for _, o := range terms {
					if o != t && !contains(e.m[t], o) {
						e.m[t] = append(e.m[t], o)
					}
				}
			}
		}
	})
	return e.m[t]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
