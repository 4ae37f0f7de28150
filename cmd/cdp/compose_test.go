package main

import (
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// No Docker engine runs where the tests run, so this checks what can be
// checked of docker-compose.yml and the Dockerfile without one.
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	neo, app := c.Services["neo4j"], c.Services["cdp"]
	if neo.Image != "neo4j:5.26-community" || len(neo.Healthcheck.Test) == 0 {
		t.Fatalf("neo4j service: image %q, healthcheck %v", neo.Image, neo.Healthcheck.Test)
	}
	if app.Build != "." || app.DependsOn["neo4j"].Condition != "service_healthy" {
		t.Fatalf("cdp service: build %q, depends_on %+v", app.Build, app.DependsOn)
	}
	if !strings.HasPrefix(app.Environment["NEO4J_URI"], "bolt://neo4j:") {
		t.Fatalf("cdp service does not point at the neo4j service: %q", app.Environment["NEO4J_URI"])
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "./cmd/cdp") || !strings.Contains(string(df), `CMD ["serve"]`) {
		t.Fatal("Dockerfile does not build and serve ./cmd/cdp")
	}
}
