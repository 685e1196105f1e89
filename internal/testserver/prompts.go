package main

type promptArgument struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

type prompt struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Arguments   []promptArgument `json:"arguments,omitempty"`
}

type promptMessage struct {
	Role    string      `json:"role"`
	Content textContent `json:"content"`
}

var prompts = []prompt{
	{
		Name:        "greet",
		Description: "Greets someone by name",
		Arguments:   []promptArgument{{Name: "name", Description: "Who to greet", Required: true}},
	},
	{Name: "plain", Description: "A prompt without arguments"},
}

func (s *server) promptsList(r *request) (any, *rpcError) {
	items := make([]any, 0, len(prompts))
	for _, p := range prompts {
		items = append(items, p)
	}
	s.mu.Lock()
	for _, p := range s.file.Prompts {
		items = append(items, p)
	}
	s.mu.Unlock()
	return listPage(s, r, "prompts", items)
}

func (s *server) promptsGet(r *request) (any, *rpcError) {
	var p struct {
		Name      string            `json:"name"`
		Arguments map[string]string `json:"arguments"`
	}
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return nil, err
	}
	switch p.Name {
	case "greet":
		if p.Arguments["name"] == "" {
			return nil, invalidParams("prompt greet: missing required argument name")
		}
		return promptResult("Greeting", "Hello, "+p.Arguments["name"]+"!"), nil
	case "plain":
		return promptResult("Plain prompt", "This is a plain prompt."), nil
	case "":
	default:
		if s.filePrompt(p.Name) {
			return promptResult("File prompt", "prompt "+p.Name), nil
		}
	}
	return nil, invalidParams("unknown prompt: %s", p.Name)
}

func promptResult(description, text string) any {
	return map[string]any{
		"description": description,
		"messages":    []promptMessage{{Role: "user", Content: newText(text)}},
	}
}
