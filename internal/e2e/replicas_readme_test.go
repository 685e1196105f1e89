package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// replicasSection returns the README's section on replicas.
func replicasSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "### Replicas behind a load balancer")
	if start < 0 {
		t.Fatal(`README.md has no "### Replicas behind a load balancer" section`)
	}
	s = s[start:]
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	return s
}

// fenced returns the code blocks of lang in text.
func fenced(text, lang string) []string {
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\n(.*?)^```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// readmeHAProxy returns the README's HAProxy configuration for the test's
// ports: the frontend bound to 127.0.0.1:front, the servers the test's,
// and a stats page on 127.0.0.1:stats for the test to read.
func readmeHAProxy(t *testing.T, front, stats int, servers string) []byte {
	t.Helper()
	blocks := fenced(replicasSection(t), "haproxy")
	if len(blocks) != 1 {
		t.Fatalf("the README's replicas section has %d haproxy blocks, want 1", len(blocks))
	}
	var out strings.Builder
	out.WriteString("global\n    maxconn 512\n\n")
	placed := false
	for _, line := range strings.Split(blocks[0], "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "bind "):
			fmt.Fprintf(&out, "    bind 127.0.0.1:%d\n", front)
		case strings.HasPrefix(trimmed, "server "):
			if !placed {
				out.WriteString(servers)
				placed = true
			}
		default:
			out.WriteString(line + "\n")
		}
	}
	if !placed {
		t.Fatal("the README's haproxy block has no server lines")
	}
	fmt.Fprintf(&out, "\nlisten stats\n    bind 127.0.0.1:%d\n    stats enable\n    stats uri /stats\n", stats)
	return []byte(out.String())
}

// k8sObject is what TestKubernetesYAML reads of a manifest.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		Replicas int              `yaml:"replicas"`
		Selector yaml.Node        `yaml:"selector"`
		Ports    []k8sServicePort `yaml:"ports"`
		Template k8sPodTemplate   `yaml:"template"`
	} `yaml:"spec"`
}

type k8sServicePort struct {
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
		Containers                    []struct {
			Args  []string `yaml:"args"`
			Ports []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			Env []struct {
				Name      string `yaml:"name"`
				ValueFrom struct {
					SecretKeyRef struct {
						Name string `yaml:"name"`
						Key  string `yaml:"key"`
					} `yaml:"secretKeyRef"`
				} `yaml:"valueFrom"`
			} `yaml:"env"`
			ReadinessProbe k8sProbe `yaml:"readinessProbe"`
			LivenessProbe  k8sProbe `yaml:"livenessProbe"`
			Lifecycle      struct {
				PreStop struct {
					Sleep struct {
						Seconds int `yaml:"seconds"`
					} `yaml:"sleep"`
				} `yaml:"preStop"`
			} `yaml:"lifecycle"`
			VolumeMounts []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name      string `yaml:"name"`
			ConfigMap struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// TestKubernetesYAML parses the README's Kubernetes manifests (the block
// itself, so that the two cannot drift) and checks that they fit together:
// a Secret with the session key, a Deployment whose replicas take it as
// MCPMUX_SESSION_KEY, with readiness on /readyz and liveness on /healthz
// at the port mcpmux serves, a drain that fits in the grace period, and a
// Service that selects the Deployment's pods.
func TestKubernetesYAML(t *testing.T) {
	blocks := fenced(replicasSection(t), "yaml")
	if len(blocks) != 1 {
		t.Fatalf("the README's replicas section has %d yaml blocks, want 1", len(blocks))
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(blocks[0])))
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the README's Kubernetes YAML: %v", err)
		}
		if o.APIVersion == "" || o.Metadata.Name == "" {
			t.Fatalf("a manifest without apiVersion or name: %+v", o)
		}
		objs[o.Kind] = o
	}
	for _, kind := range []string{"Secret", "ConfigMap", "Deployment", "Service"} {
		if _, ok := objs[kind]; !ok {
			t.Fatalf("no %s in the README's Kubernetes YAML (have %v)", kind, objs)
		}
	}
	secret, cm, dep, svc := objs["Secret"], objs["ConfigMap"], objs["Deployment"], objs["Service"]
	if dep.Spec.Replicas < 2 {
		t.Errorf("the Deployment runs %d replicas", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	i := slices.Index(c.Args, "--http")
	if len(c.Args) < 1 || c.Args[0] != "serve" || i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("the container's args %q do not run serve --http ADDR", c.Args)
	}
	addr := c.Args[i+1]
	if len(c.Ports) != 1 || !strings.HasSuffix(addr, fmt.Sprintf(":%d", c.Ports[0].ContainerPort)) {
		t.Errorf("mcpmux serves %s, the container's ports are %+v", addr, c.Ports)
	}
	env := map[string][2]string{}
	for _, e := range c.Env {
		env[e.Name] = [2]string{e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key}
	}
	for _, name := range []string{"MCPMUX_SESSION_KEY", "MCPMUX_TOKEN"} { // the token: the bind is not loopback
		ref, ok := env[name]
		if !ok || ref[0] != secret.Metadata.Name {
			t.Errorf("%s does not come from the Secret %q: %v", name, secret.Metadata.Name, ref)
			continue
		}
		if _, ok := secret.StringData[ref[1]]; !ok {
			t.Errorf("%s names key %q, which the Secret does not have", name, ref[1])
		}
	}
	port := c.Ports[0].Name
	if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port != port {
		t.Errorf("readiness probe %+v, want /readyz on %q", p, port)
	}
	if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port != port {
		t.Errorf("liveness probe %+v, want /healthz on %q", p, port)
	}
	// The configuration comes from the ConfigMap, mounted where --config
	// looks, and sets the drain, which must fit in the grace period with
	// preStop's wait.
	j := slices.Index(c.Args, "--config")
	if j < 0 || j+1 >= len(c.Args) {
		t.Fatalf("the container's args %q name no --config", c.Args)
	}
	cfgPath := c.Args[j+1]
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap.Name == cm.Metadata.Name {
				for file := range cm.Data {
					mounted = mounted || strings.TrimSuffix(m.MountPath, "/")+"/"+file == cfgPath
				}
			}
		}
	}
	if !mounted {
		t.Errorf("--config %s is not a file of the ConfigMap %q as mounted", cfgPath, cm.Metadata.Name)
	}
	var config struct {
		DrainTimeout string `yaml:"drainTimeout"`
	}
	for _, data := range cm.Data {
		if err := yaml.Unmarshal([]byte(data), &config); err != nil {
			t.Errorf("the ConfigMap's configuration: %v", err)
		}
	}
	drain, err := parseSeconds(config.DrainTimeout)
	if err != nil {
		t.Errorf("drainTimeout %q: %v", config.DrainTimeout, err)
	}
	if grace, stop := pod.Spec.TerminationGracePeriodSeconds, c.Lifecycle.PreStop.Sleep.Seconds; stop <= 0 || grace < stop+drain+5 {
		t.Errorf("terminationGracePeriodSeconds %d leaves no room for preStop's %ds, the %ds drain and the stop", grace, stop, drain)
	}
	var selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := dep.Spec.Selector.Decode(&selector); err != nil {
		t.Fatal(err)
	}
	for k, v := range selector.MatchLabels {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods' labels %v", k, v, pod.Metadata.Labels)
		}
	}
	var svcSpec struct {
		Selector map[string]string `yaml:"selector"`
	}
	var raw yaml.Node
	dec = yaml.NewDecoder(bytes.NewReader([]byte(blocks[0])))
	for dec.Decode(&raw) == nil {
		var o struct {
			Kind string    `yaml:"kind"`
			Spec yaml.Node `yaml:"spec"`
		}
		if raw.Decode(&o) == nil && o.Kind == "Service" {
			_ = o.Spec.Decode(&svcSpec)
		}
	}
	if len(svcSpec.Selector) == 0 {
		t.Error("the Service selects nothing")
	}
	for k, v := range svcSpec.Selector {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("the Service's selector %s=%s does not match the pods' labels %v", k, v, pod.Metadata.Labels)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != port {
		t.Errorf("the Service's ports %+v do not target the container's port %q", svc.Spec.Ports, port)
	}
}

// parseSeconds reads a whole number of seconds such as "10s".
func parseSeconds(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%ds", &n); err != nil || fmt.Sprintf("%ds", n) != s {
		return 0, fmt.Errorf("not a whole number of seconds such as \"10s\"")
	}
	return n, nil
}
