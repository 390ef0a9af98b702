package oracle

import (
	"context"
	"encoding/json"
	"math/rand"
	"testing"
)

// TestSubstitution runs ORACLE_CASES generated substitution cases (2,000 by default) from ORACLE_SEED:
// wherever the policy admits a sidecar, the image it judged is the image Tekton runs, and Tekton gives
// it no volume the policy refuses.
func TestSubstitution(t *testing.T) {
	seed, count := seedAndCount(t, 2000)
	t.Logf("tektoncd/pipeline %s, ORACLE_SEED=%d ORACLE_CASES=%d", Release, seed, count)
	r := rand.New(rand.NewSource(seed))
	tally := map[string]int{}
	failures := 0
	for i := 0; i < count && failures < 5; i++ {
		c := GenerateSubstitution(r)
		outcome, err := RunSubstitution(context.Background(), policy, c)
		if err != nil {
			failures++
			text, _ := json.MarshalIndent(c.TaskRun, "", " ")
			t.Errorf("case %d of ORACLE_SEED=%d: %v\n%s", i, seed, err, text)
			continue
		}
		tally[outcome]++
	}
	t.Logf("outcomes: %v", tally)
	if failures == 0 && count >= 1000 && tally["same image"] < count/10 {
		t.Errorf("only %d of %d cases reached Tekton's Pod: the generator tests little", tally["same image"], count)
	}
}
