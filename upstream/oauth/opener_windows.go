package oauth

func osOpener(u string) []string { return []string{"rundll32", "url.dll,FileProtocolHandler", u} }
