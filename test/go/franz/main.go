// Command franz is a franz-go (github.com/twmb/franz-go) round trip for the end-to-end tests
// (test/e2e/franz-go.test.ts). It takes one JSON argument:
//
//	{"bootstrap": "host:port", "topic": "t", "group": "g", "count": 10,
//	 "partitions": 3, "token": "<OIDC access token>", "timeoutSec": 60}
//
// It creates the topic (unless partitions is 0: then it must exist), produces count records
// k{i}/v{i} with acks=all, consumes them back with a consumer group from the earliest offset,
// commits, reads the committed offsets back, and prints one JSON line to stdout. With a token
// it logs in with SASL/OAUTHBEARER over plaintext. On failure it prints {"error": "..."} and
// exits 1; nothing runs longer than timeoutSec.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

type settings struct {
	Bootstrap  string `json:"bootstrap"`
	Topic      string `json:"topic"`
	Group      string `json:"group"`
	Count      int    `json:"count"`
	Partitions *int32 `json:"partitions"` // default 1; 0: the topic exists already
	Token      string `json:"token"`
	TimeoutSec int    `json:"timeoutSec"` // default 60
}

type result struct {
	Produced int `json:"produced"`
	// Consumed lists "key=value" in the order the client returned them.
	Consumed []string `json:"consumed"`
	// ByPartition lists "key=value" per partition, in offset order.
	ByPartition map[string][]string `json:"byPartition"`
	// Committed: the group's committed offsets, read back, cover every record.
	Committed  bool   `json:"committed"`
	KgoVersion string `json:"kgoVersion,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fail(errors.New("usage: franz '<json settings>'"))
	}
	var s settings
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		fail(fmt.Errorf("settings: %w", err))
	}
	if s.Bootstrap == "" || s.Topic == "" || s.Group == "" || s.Count <= 0 {
		fail(errors.New("settings need bootstrap, topic, group and a positive count"))
	}
	if s.TimeoutSec <= 0 {
		s.TimeoutSec = 60
	}
	timeout := time.Duration(s.TimeoutSec) * time.Second

	// A hard stop in case something ignores the context (closing a client, a group leave).
	time.AfterFunc(timeout+5*time.Second, func() { fail(fmt.Errorf("timed out after %s", timeout)) })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	res, err := roundTrip(ctx, s)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// opts are the options every client here shares: the bootstrap, the login, kgo's log on stderr.
func opts(s settings) []kgo.Opt {
	o := []kgo.Opt{
		kgo.SeedBrokers(s.Bootstrap),
		kgo.ClientID("gatehouse-franz-e2e"),
		kgo.DialTimeout(10 * time.Second),
		// A just-created partition can answer NOT_LEADER for a moment; refresh metadata soon
		// after rather than after kgo's default 5 s.
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)),
	}
	if s.Token != "" {
		o = append(o, kgo.SASL(oauth.Auth{Token: s.Token}.AsMechanism()))
	}
	return o
}

func roundTrip(ctx context.Context, s settings) (*result, error) {
	res := &result{Consumed: []string{}, ByPartition: map[string][]string{}, KgoVersion: kgoVersion()}

	producer, err := kgo.NewClient(append(opts(s), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(s.Topic))...)
	if err != nil {
		return nil, fmt.Errorf("producer client: %w", err)
	}
	defer producer.Close()
	adm := kadm.NewClient(producer)

	partitions := int32(1)
	if s.Partitions != nil {
		partitions = *s.Partitions
	}
	if partitions > 0 {
		if err := createTopic(ctx, adm, s.Topic, partitions); err != nil {
			return nil, err
		}
	}

	// Produce all records and wait for every acknowledgement.
	records := make([]*kgo.Record, s.Count)
	for i := range records {
		records[i] = &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce: %w", err)
	}
	res.Produced = len(records)

	// Consume them with a fresh group from the start, committing by hand at the end.
	consumer, err := kgo.NewClient(append(opts(s),
		kgo.ConsumerGroup(s.Group),
		kgo.ConsumeTopics(s.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("consumer client: %w", err)
	}
	defer consumer.Close()
	for len(res.Consumed) < s.Count {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("consumed %d of %d records: %w", len(res.Consumed), s.Count, ctx.Err())
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("fetch %s[%d]: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			kv := string(r.Key) + "=" + string(r.Value)
			p := strconv.Itoa(int(r.Partition))
			res.Consumed = append(res.Consumed, kv)
			res.ByPartition[p] = append(res.ByPartition[p], kv)
		})
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}

	// Read the commit back: the next offsets of all partitions add up to the records produced.
	committed, err := adm.FetchOffsets(ctx, s.Group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets: %w", err)
	}
	if err := committed.Error(); err != nil {
		return nil, fmt.Errorf("fetch offsets: %w", err)
	}
	var next int64
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Topic == s.Topic {
			next += o.At
		}
	})
	res.Committed = next == int64(s.Count)
	return res, nil
}

// createTopic creates the topic (an existing one is fine) and waits until every partition has
// a leader, so the first produce does not race the topic's creation.
func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	if _, err := adm.CreateTopic(ctx, partitions, -1, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for {
		topics, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if t, ok := topics[topic]; ok && t.Err == nil && len(t.Partitions) == int(partitions) && leadersKnown(t) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the leaders of %s: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func leadersKnown(t kadm.TopicDetail) bool {
	for _, p := range t.Partitions {
		if p.Leader < 0 || p.Err != nil {
			return false
		}
	}
	return true
}

// kgoVersion is the franz-go version this binary was built with.
func kgoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/twmb/franz-go" {
			return dep.Version
		}
	}
	return ""
}

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}
