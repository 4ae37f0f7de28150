package main

import (
	"os"
	"strings"
	"testing"
	"time"

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
			Image           string            `yaml:"image"`
			Build           string            `yaml:"build"`
			Environment     map[string]string `yaml:"environment"`
			StopGracePeriod string            `yaml:"stop_grace_period"`
			Healthcheck     struct {
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
	neo := c.Services["neo4j"]
	if neo.Image != "neo4j:5.26-community" || len(neo.Healthcheck.Test) == 0 {
		t.Fatalf("neo4j service: image %q, healthcheck %v", neo.Image, neo.Healthcheck.Test)
	}
	// Two replicas of the service on the one Neo4j, each with a healthcheck
	// the distroless image can run (cdp health, no shell).
	refreshing := 0
	for _, name := range []string{"cdp1", "cdp2"} {
		app, ok := c.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if app.Build != "." || app.DependsOn["neo4j"].Condition != "service_healthy" {
			t.Fatalf("%s service: build %q, depends_on %+v", name, app.Build, app.DependsOn)
		}
		if !strings.HasPrefix(app.Environment["NEO4J_URI"], "bolt://neo4j:") {
			t.Fatalf("%s service does not point at the neo4j service: %q", name, app.Environment["NEO4J_URI"])
		}
		if hc := strings.Join(app.Healthcheck.Test, " "); !strings.HasPrefix(hc, "CMD /cdp health") {
			t.Fatalf("%s healthcheck %q does not run cdp health", name, hc)
		}
		if app.Environment["CDP_AUDIENCE_REFRESH"] != "0" {
			refreshing++
		}
		// Docker kills a container 10 s after SIGTERM unless told
		// otherwise; cdp serve may take --shutdown-timeout (30 s unless
		// set) to finish requests, hand over leases and write its audit
		// entries (docs/DEPLOYMENT.md).
		shutdown := 30 * time.Second
		if v := app.Environment["CDP_SHUTDOWN_TIMEOUT"]; v != "" {
			if shutdown, err = time.ParseDuration(v); err != nil {
				t.Fatalf("%s: CDP_SHUTDOWN_TIMEOUT %q: %v", name, v, err)
			}
		}
		grace := 10 * time.Second
		if v := app.StopGracePeriod; v != "" {
			if grace, err = time.ParseDuration(v); err != nil {
				t.Fatalf("%s: stop_grace_period %q: %v", name, v, err)
			}
		}
		if grace <= shutdown {
			t.Errorf("%s: Docker kills it %s after SIGTERM (stop_grace_period), before its --shutdown-timeout of %s can end", name, grace, shutdown)
		}
	}
	if refreshing != 1 {
		t.Fatalf("%d replicas run the audience refresher, want exactly 1", refreshing)
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "./cmd/cdp") || !strings.Contains(string(df), `CMD ["serve"]`) {
		t.Fatal("Dockerfile does not build and serve ./cmd/cdp")
	}
	// COPY . . must not send the embedded store (./data, personal data)
	// or builds to the Docker engine as build context.
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: docker build would send ./data, the embedded store: %v", err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(ignore), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{"data/", "dist/"} {
		if !lines[want] {
			t.Errorf(".dockerignore does not leave out %s:\n%s", want, ignore)
		}
	}
	// The runtime image runs as distroless's nonroot (uid 65532), with no
	// shell to create a folder: the embedded store's folder is made in the
	// build stage and copied owned by that user, and by group 0 with the
	// owner's rights (an arbitrary uid in group 0, as some platforms run
	// images, can write it too), and the image points CDP_DATA_DIR at it,
	// so that a volume mounted there can be written.
	dockerfile := string(df)
	runtime := dockerfile[strings.LastIndex(dockerfile, "\nFROM "):]
	if !strings.Contains(runtime, "FROM gcr.io/distroless/static-debian12:nonroot\n") {
		t.Fatalf("the runtime stage is not distroless static nonroot (uid 65532):\n%s", runtime)
	}
	if !strings.Contains(dockerfile, "RUN mkdir -p /out/data && chmod 0775 /out/data\n") ||
		!strings.Contains(runtime, "COPY --from=build --chown=65532:0 /out/data /data\n") ||
		!strings.Contains(runtime, "ENV CDP_DATA_DIR=/data\n") {
		t.Errorf("the image does not give the embedded store a /data folder owned by uid 65532 and writable by group 0 (CDP_DATA_DIR=/data):\n%s", runtime)
	}
	// The image's cdp version is stamped as make release stamps it.
	if !strings.Contains(string(df), "ARG VERSION") || !strings.Contains(string(df), "-X main.version=${VERSION}") {
		t.Fatal("Dockerfile does not stamp the build argument VERSION into main.version")
	}
}
