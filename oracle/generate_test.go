package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// seedAndCount reads ORACLE_SEED (the time by default) and ORACLE_CASES (count by default).
func seedAndCount(t *testing.T, count int) (int64, int) {
	seed := time.Now().UnixNano()
	if text := os.Getenv("ORACLE_SEED"); text != "" {
		var err error
		if seed, err = strconv.ParseInt(text, 10, 64); err != nil {
			t.Fatalf("ORACLE_SEED: %v", err)
		}
	}
	if text := os.Getenv("ORACLE_CASES"); text != "" {
		var err error
		if count, err = strconv.Atoi(text); err != nil {
			t.Fatalf("ORACLE_CASES: %v", err)
		}
	}
	return seed, count
}

// TestGenerated runs ORACLE_CASES generated cases (2,000 by default) from ORACLE_SEED (the time by
// default; printed, so a failure can be run again).
func TestGenerated(t *testing.T) {
	seed, count := seedAndCount(t, 2000)
	t.Logf("tektoncd/pipeline %s, ORACLE_SEED=%d ORACLE_CASES=%d", Release, seed, count)
	r := rand.New(rand.NewSource(seed))
	tally := map[string]int{}
	shown, applicable := map[string]int{}, map[string]int{}
	failures := 0
	for i := 0; i < count && failures < 5; i++ {
		c := Generate(r)
		result, err := Run(context.Background(), policy, c)
		if errors.Is(err, ErrTektonRefuses) {
			tally["tekton refuses the case"]++
			continue
		}
		if err != nil {
			failures++
			t.Errorf("case %d of ORACLE_SEED=%d, %s: %v", i, seed, c.Name, err)
			continue
		}
		for _, d := range Differences {
			if d.Applies(c) {
				applicable[d.Name]++
			}
		}
		outcome, used, ok := Explain(c, result)
		tally[outcome]++
		for _, name := range used {
			shown[name]++
		}
		if !ok {
			failures++
			text, _ := json.MarshalIndent(c, "", " ")
			diff := ""
			if result.Got != nil {
				diff = cmp.Diff(Comparable(result.Want), Comparable(result.Got))
			}
			t.Errorf("case %d of ORACLE_SEED=%d, %s: %s\n%s\nrefused: %s\nwarnings: %q\n(-Tekton +policy):\n%s", i, seed, c.Name, outcome, text, result.Refused, result.Warnings, diff)
		}
	}
	t.Logf("outcomes: %v", tally)
	// A documented difference that cases could show but none does any more is stale: it must leave
	// the list. (One of another Tekton release applies to no case here.)
	for _, d := range Differences {
		if applicable[d.Name] > 0 && shown[d.Name] == 0 && failures == 0 && count >= 1000 {
			t.Errorf("no case showed the documented difference %q: if the policy now matches Tekton there, remove it from the list and docs/tekton.md", d.Name)
		}
	}
}
