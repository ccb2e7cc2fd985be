package bounce_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/bounce"
)

// expectation is what sisimai says of one file: how many of its recipients bounced hard
// and how many did not, and whether it is a feedback report.
type expectation struct {
	hard, soft int
	feedback   bool
}

func loadExpected(t *testing.T) map[string]*expectation {
	f, err := os.Open(filepath.Join("testdata", "corpus", "expected.tsv"))
	require.NoError(t, err)
	defer f.Close()
	out := map[string]*expectation{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := sc.Text()
		if strings.HasPrefix(ln, "#") || ln == "" {
			continue
		}
		cols := strings.Split(ln, "\t")
		require.Len(t, cols, 6, ln)
		e := out[cols[0]]
		if e == nil {
			e = &expectation{}
			out[cols[0]] = e
		}
		switch {
		case cols[4] == "feedback":
			e.feedback = true
		case cols[5] == "true":
			e.hard++
		case cols[4] != "delivered" && cols[4] != "vacation":
			e.soft++
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestCorpus parses every message of the corpus and measures the classifier against
// sisimai's results: at least 95 % of the recipients sisimai calls hard bounces must be
// Hard here (counted per file: a file's hard recipients found, up to the number expected),
// and every feedback report (message/feedback-report) must be a complaint.
func TestCorpus(t *testing.T) {
	t.Parallel()
	want := loadExpected(t)
	require.Greater(t, len(want), 500, "the corpus is there")
	var hardWant, hardGot, softWant, softAsHard int
	var missed []string
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := want[name]
		raw, err := os.ReadFile(filepath.Join("testdata", "corpus", name))
		require.NoError(t, err)
		r, err := bounce.Parse(raw, &bounce.Options{NullSender: true})
		if e.feedback {
			if !strings.Contains(strings.ToLower(string(raw)), "message/feedback-report") {
				continue // sisimai reads some non-ARF opt-outs as feedback (Apple Mail's)
			}
			require.NoError(t, err, name)
			require.Equal(t, bounce.FormatARF, r.Format, name)
			require.Equal(t, bounce.Complaint, r.Recipients[0].Kind, name)
			continue
		}
		hard := 0
		if err == nil {
			for _, rc := range r.Recipients {
				if rc.Kind == bounce.Hard {
					hard++
				}
			}
		}
		hardWant += e.hard
		found := min(hard, e.hard)
		hardGot += found
		if found < e.hard {
			missed = append(missed, name)
		}
		if e.hard == 0 && e.soft > 0 {
			softWant++
			if hard > 0 {
				softAsHard++
			}
		}
	}
	recall := float64(hardGot) / float64(hardWant)
	t.Logf("hard bounces: %d of %d classified hard (%.1f %%); files sisimai calls soft that came out hard: %d of %d",
		hardGot, hardWant, 100*recall, softAsHard, softWant)
	t.Logf("missed: %v", missed)
	require.GreaterOrEqual(t, recall, 0.95, "missed: %v", missed)
}
