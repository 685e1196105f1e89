package oauth

func osOpener(u string) []string { return []string{"open", u} }
