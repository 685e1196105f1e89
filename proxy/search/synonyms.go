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
	{"screenshot", "capture", "截图", "截屏", "屏幕截图"},
	{"web", "page", "url", "website", "link", "http", "https", "www", "网页", "链接", "网上", "网络", "互联网"},
	{"navigate", "go", "visit", "browse", "goto", "访问", "跳转"},
	{"message", "msg", "chat", "消息"},
	{"user", "account", "member", "用户", "账号"},
	{"issue", "ticket", "bug", "问题"},
	{"database", "db", "sql", "数据库"},
	{"sql", "table", "row", "column", "数据表"},
	{"table", "表"},
	{"record", "row", "entry", "记录"},
	{"time", "clock", "date", "today", "now", "时间", "日期", "今天", "几号", "几点"},
	{"history", "log", "past", "历史", "日志", "记录"},
	{"weather", "forecast", "天气"},
	{"price", "cost", "价格"},
	{"translate", "convert", "翻译", "转换"},
	{"summary", "summarize", "摘要", "总结"},
	{"size", "large", "big", "大小"},
	{"note", "memo", "笔记"},
	{"map", "location", "place", "地图", "位置"},
	{"coordinate", "latitude", "longitude", "lat", "lng", "geocode", "经纬度", "坐标"},
	{"distance", "far", "距离"},
	{"elevation", "altitude", "height", "海拔", "高度"},
	{"route", "direction", "path", "way", "路线", "路径", "导航"},
	{"email", "mail", "邮件"},
	{"calendar", "event", "schedule", "日历", "日程"},
	{"stock", "share", "股票"},
	{"news", "新闻"},
	{"video", "视频"},
	{"code", "source", "代码"},
	{"repository", "repo", "仓库"},
	{"commit", "提交"},
	{"merge", "合并"},
	{"pr", "pull", "合并请求"},
	{"append", "add", "attach", "追加", "附加"},
	{"allow", "permit", "permission", "access", "允许", "权限"},
	{"javascript", "js", "script", "脚本"},
	{"emoji", "reaction", "表情"},
	// Words of agents' requests, with the Chinese that asks for them:
	// many requests are in Chinese while most tools are described in
	// English, and the other way round.
	{"push", "推送"},
	{"click", "tap", "press", "点击", "单击"},
	{"type", "input", "enter", "fill", "输入", "填写"},
	{"channel", "频道"},
	{"recent", "latest", "最近", "最新"},
	{"comment", "reply", "评论", "回复"},
	{"review", "审查", "评审"},
	{"train", "railway", "火车", "列车", "高铁"},
	{"ticket", "fare", "票", "车票"},
	{"station", "车站"},
	{"button", "按钮"},
	{"login", "signin", "登录"},
	{"browser", "浏览器"},
	{"tab", "标签页"},
	{"drag", "拖动", "拖拽"},
	{"sum", "add", "calculate", "total", "求和", "计算"},
	{"walk", "foot", "步行", "走路"},
	{"drive", "car", "驾车", "开车"},
	{"bicycle", "bike", "cycling", "bicycling", "骑行", "自行车"},
	{"transit", "bus", "subway", "metro", "公交", "地铁"},
	{"nearby", "near", "around", "附近", "周边"},
	{"address", "地址"},
	{"weather", "rain", "snow", "temperature", "下雨", "下雪", "气温", "温度"},
	{"internet", "online", "web", "网上", "互联网"},
	{"url", "网址"},
	{"page", "页面"},
	{"folder", "文件夹"},
	{"project", "项目"},
	{"task", "todo", "任务", "待办"},
	{"spreadsheet", "sheet", "excel", "表格"},
	{"chart", "graph", "plot", "图表"},
	{"payment", "pay", "支付", "付款"},
	{"order", "订单"},
	{"product", "goods", "商品", "产品"},
	{"customer", "client", "客户"},
	{"error", "exception", "failure", "错误", "异常"},
	{"deploy", "release", "部署", "发布"},
	{"container", "docker", "容器"},
	{"server", "host", "服务器"},
	{"config", "configuration", "setting", "配置", "设置"},
	{"password", "secret", "credential", "密码"},
	{"analyze", "analysis", "分析"},
	{"report", "报告", "报表"},
	{"contact", "联系人"},
	{"meeting", "会议"},
	{"audio", "sound", "voice", "speech", "音频", "语音"},
	{"music", "song", "音乐", "歌曲"},
	{"movie", "film", "电影"},
	{"hotel", "酒店"},
	{"flight", "airline", "航班", "机票"},
	{"restaurant", "food", "餐厅", "美食"},
	{"exchange", "汇率"},
	{"currency", "money", "货币"},
	{"crypto", "bitcoin", "加密货币", "比特币"},
	{"article", "post", "blog", "文章"},
	{"count", "number", "数量", "统计"},
	{"statistics", "stats", "metric", "统计", "指标"},
	{"filter", "筛选", "过滤"},
	{"export", "导出"},
	{"import", "导入"},
	{"backup", "备份"},
	{"restore", "恢复"},
	{"install", "安装"},
	{"test", "测试"},
	{"build", "compile", "构建", "编译"},
	{"debug", "调试"},
	{"knowledge", "知识"},
	{"entity", "实体"},
	{"relation", "relationship", "关系"},
	{"memory", "remember", "记忆"},
	{"think", "reason", "思考", "推理"},
	{"plan", "规划", "计划"},
	{"step", "步骤"},
	{"status", "state", "状态"},
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
