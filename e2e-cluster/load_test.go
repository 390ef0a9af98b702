package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
)

// loadRuns is how many PipelineRuns the load test creates at once.
const loadRuns = 50

// webhookLatency is the API server's histogram of the time it waits for each admission webhook.
const webhookLatency = "apiserver_admission_webhook_admission_duration_seconds"

// 50 PipelineRuns created at once, each declaring a sidecar for a task of a referenced Pipeline: every
// Pod gets it. The same again with the mutation floor (bench/mutation-floor) served instead of the
// policy. The API server's webhook latency and the server's own time per request, for both, go to the
// test's log and to latency.txt beside the servers' logs (BENCHMARKS.md quotes them).
func TestLoad(t *testing.T) {
	shared(t)
	var report strings.Builder
	for _, module := range []struct{ name, path string }{
		{"policy", os.Getenv("POLICY")},
		{"mutation-floor", os.Getenv("FLOOR")},
	} {
		if err := servePolicies(context.Background(), module.path); err != nil {
			t.Fatal(err)
		}
		before, cpuBefore := histograms(t), policyServerCPU(t)
		began := time.Now()
		createAtOnce(t, module.name)
		pods := waitForPods(t, module.name)
		elapsed := time.Since(began)
		if module.name == "policy" {
			for _, pod := range pods {
				if !slices.Contains(containerNames(pod), "sidecar-postgres") {
					t.Errorf("Pod %s has no sidecar-postgres: %v", pod.GetName(), containerNames(pod))
				}
			}
		}
		after, cpuAfter := histograms(t), policyServerCPU(t)
		fmt.Fprintf(&report, "%s: %d PipelineRuns, their TaskRuns and Pods in %.1f s\n", module.name, loadRuns,
			elapsed.Seconds())
		if suite.server.real != nil {
			fmt.Fprintf(&report, "  policy-server's CPU: %.0f ms for the %d admissions\n",
				(cpuAfter-cpuBefore).Seconds()*1000, admissions(after, before))
		}
		for _, p := range sortedPolicies() {
			webhook := p.id + ".kubewarden.admission"
			latency := after[webhook].minus(before[webhook])
			p.mu.Lock()
			took := slices.Clone(p.took)
			p.mu.Unlock()
			fmt.Fprintf(&report, "  %s: %d admissions; API server's wait p50 %s, p99 %s (%.0f%% under 5 ms); "+
				"in the server p50 %s, p99 %s\n", webhook, int(latency.count), latency.quantile(0.5),
				latency.quantile(0.99), 100*latency.under(0.005), percentile(took, 0.5), percentile(took, 0.99))
		}
	}
	if err := servePolicies(context.Background(), os.Getenv("POLICY")); err != nil {
		t.Fatal(err)
	}
	t.Log("latency:\n" + report.String())
	if err := os.WriteFile(filepath.Join(suite.dir, "latency.txt"), []byte(report.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// admissions is how many admissions the webhooks saw between two readings.
func admissions(after, before map[string]histogram) int {
	total := 0.0
	for name, h := range after {
		total += h.minus(before[name]).count
	}
	return int(total)
}

// policyServerCPU is the CPU time the real policy-server has used (/proc/<pid>/stat's utime and stime,
// in the kernel's USER_HZ of 100 a second); 0 without one.
func policyServerCPU(t *testing.T) time.Duration {
	t.Helper()
	if suite.server.real == nil {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", suite.server.real.process.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, field := range fields[11:13] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func sortedPolicies() []*servedPolicy {
	var policies []*servedPolicy
	for _, p := range suite.server.policies {
		policies = append(policies, p)
	}
	slices.SortFunc(policies, func(a, b *servedPolicy) int { return strings.Compare(a.id, b.id) })
	return policies
}

// createAtOnce creates loadRuns PipelineRuns of the Pipeline "shared" side by side, labelled load=name.
func createAtOnce(t *testing.T, name string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, loadRuns)
	for i := range loadRuns {
		run := strings.Replace(pipelineRun(fmt.Sprintf("load-%s-%d", name, i), "shared", postgres, ""),
			"metadata:\n", "metadata:\n  labels: {load: "+name+"}\n", 1)
		objects := parse(t, run)
		wg.Go(func() {
			_, err := resource(suite.client, "PipelineRun", namespace).Create(context.Background(), objects[0], metav1.CreateOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// waitForPods waits for the Pods of the PipelineRuns labelled load=name.
func waitForPods(t *testing.T, name string) []unstructured.Unstructured {
	t.Helper()
	var pods []unstructured.Unstructured
	eventually(t, 3*time.Minute, "the Pods of the load", func() (bool, string) {
		pods = list(t, "Pod", "load="+name)
		return len(pods) == loadRuns, fmt.Sprintf("%d Pods", len(pods))
	})
	return pods
}

// containerNames is the names of a Pod's containers, or of the list named by list.
func containerNames(pod unstructured.Unstructured, list ...string) []string {
	field := "containers"
	if len(list) > 0 {
		field = list[0]
	}
	containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", field)
	var names []string
	for _, c := range containers {
		container, _ := c.(map[string]any)
		names = append(names, fmt.Sprint(container["name"]))
	}
	return names
}

// container is the container named name in the Pod's containers, if it has one.
func container(pod unstructured.Unstructured, name string) map[string]any {
	containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	for _, c := range containers {
		if container, _ := c.(map[string]any); container["name"] == name {
			return container
		}
	}
	return nil
}

// histogram is one webhook's latency histogram: cumulative counts by upper bound, in seconds.
type histogram struct {
	bounds []float64
	counts []float64
	count  float64
}

// histograms reads the API server's webhook latency histograms of CREATEs, by webhook name.
func histograms(t *testing.T) map[string]histogram {
	t.Helper()
	client, err := rest.HTTPClientFor(suite.plane.config)
	if err != nil {
		t.Fatal(err)
	}
	response, err := client.Get(suite.plane.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = response.Body.Close() }()
	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", response.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(response.Body)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]histogram{}
	family, ok := families[webhookLatency]
	if !ok {
		return byName
	}
	for _, metric := range family.GetMetric() {
		if label(metric, "operation") != "CREATE" {
			continue
		}
		name := label(metric, "name")
		byName[name] = byName[name].plus(metric.GetHistogram())
	}
	return byName
}

func label(metric *dto.Metric, name string) string {
	for _, pair := range metric.GetLabel() {
		if pair.GetName() == name {
			return pair.GetValue()
		}
	}
	return ""
}

// plus adds a histogram of the same buckets (the series of one webhook differ by their other labels).
func (h histogram) plus(other *dto.Histogram) histogram {
	sum := histogram{count: h.count + float64(other.GetSampleCount())}
	for i, bucket := range other.GetBucket() {
		sum.bounds = append(sum.bounds, bucket.GetUpperBound())
		previous := 0.0
		if i < len(h.counts) {
			previous = h.counts[i]
		}
		sum.counts = append(sum.counts, previous+float64(bucket.GetCumulativeCount()))
	}
	return sum
}

// minus is what was observed since earlier.
func (h histogram) minus(earlier histogram) histogram {
	since := histogram{bounds: h.bounds, count: h.count - earlier.count}
	for i, count := range h.counts {
		if i < len(earlier.counts) {
			count -= earlier.counts[i]
		}
		since.counts = append(since.counts, count)
	}
	return since
}

// quantile is Prometheus's histogram_quantile: linear within the bucket the rank falls in.
func (h histogram) quantile(q float64) string {
	if h.count == 0 {
		return "-"
	}
	rank, lower, below := q*h.count, 0.0, 0.0
	for i, upper := range h.bounds {
		if h.counts[i] >= rank {
			seconds := lower + (upper-lower)*(rank-below)/(h.counts[i]-below)
			return fmt.Sprintf("%.1f ms", seconds*1000)
		}
		lower, below = upper, h.counts[i]
	}
	return fmt.Sprintf("> %.0f ms", lower*1000)
}

// under is the share of observations at or under bound seconds.
func (h histogram) under(bound float64) float64 {
	for i, upper := range h.bounds {
		if upper == bound && h.count > 0 {
			return h.counts[i] / h.count
		}
	}
	return math.NaN()
}

// percentile is the nearest-rank percentile of durations.
func percentile(durations []time.Duration, q float64) string {
	if len(durations) == 0 {
		return "-"
	}
	slices.Sort(durations)
	rank := int(math.Ceil(q*float64(len(durations)))) - 1
	return fmt.Sprintf("%.2f ms", float64(durations[max(rank, 0)].Microseconds())/1000)
}
