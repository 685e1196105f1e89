//go:build !windows && !darwin

package oauth

func osOpener(u string) []string { return []string{"xdg-open", u} }
