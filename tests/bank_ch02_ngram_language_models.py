"""Realistic wrong answers to the chapter 2 exercise: each loses one part, and the feedback names why.

Each entry: the code a student might write for one solution cell, the test cell that
must fail (and only it), and words the failure message must contain.
"""
from submission_bank import Mistake

COUNT = '''def count_ngrams(sentences, n):
    counts = {{}}
    for sentence in sentences:
        tokens = {padded}
        for i in range(n - 1, len(tokens)):
            context = tuple(tokens[i - n + 1:i])
            counts.setdefault(context, Counter())[tokens[i]] += 1
    return counts
'''
ADD_DELTA = '''def add_delta_probs(counts, context, vocab, delta):
    following = counts.get(tuple(context), {{}})
    total = sum(following.values())
    return np.array([(following.get(w, 0) + delta) / ({denominator}) for w in vocab])
'''
PERPLEXITY = '''def perplexity(model, vocab, sentences, n):
    position = {{w: i for i, w in enumerate(vocab)}}
    logs = []
    for sentence in sentences:
        tokens = [BOS] * (n - 1) + list(sentence){end}
        for i in range(n - 1, len(tokens)):
            logs.append({log}(model(tuple(tokens[i - n + 1:i]))[position[tokens[i]]]))
    return 2 ** (-np.mean(logs))
'''
KNESER_NEY = '''def kneser_ney_probs(counts, context, vocab, d, p_cont):
    following = counts.get(tuple(context), {{}})
    c_v = sum(following.values())
    if c_v == 0:
        return {unseen}
    first = np.array([max(following.get(w, 0) - d, 0) for w in vocab]) / c_v
    return first + {weight} * np.asarray(p_cont)
'''
KATZ = '''def katz_backoff_probs(counts, context, vocab, d, p_lower):
    following = counts.get(tuple(context), {{}})
    c_h = sum(following.values())
    if c_h == 0:
        return np.asarray(p_lower, dtype=float)
    c = np.array([following.get(w, 0) for w in vocab], dtype=float)
    seen = c > 0
    if seen.all():
        return c / c_h
    freed = d * seen.sum() / c_h
    return {result}
'''
GENERATE = '''def generate(model, vocab, n, rng, max_len=100):
    context, sentence = (BOS,) * (n - 1), []
    while len(sentence) < max_len:
        token = vocab[{draw}]
        {stop}
        sentence.append(token)
        context = (context + (token,))[1:]
    return sentence
'''

MISTAKES = {
    "single_start_symbol": Mistake(
        "count_ngrams", COUNT.format(padded="[BOS] + list(sentence) + [EOS]"),
        "test_count_ngrams", "a single <s> at the start"),
    "no_end_symbol": Mistake(
        "count_ngrams", COUNT.format(padded="[BOS] * (n - 1) + list(sentence)"),
        "test_count_ngrams", "no </s> at the end"),
    "delta_in_numerator_only": Mistake(
        "add_delta_probs", ADD_DELTA.format(denominator="total"),
        "test_add_delta_probs", "delta added to the numerator only"),
    "delta_once_in_denominator": Mistake(
        "add_delta_probs", ADD_DELTA.format(denominator="total + delta"),
        "test_add_delta_probs", "delta added once to the denominator"),
    "log_base_mixed_up": Mistake(
        "perplexity", PERPLEXITY.format(end=" + [EOS]", log="np.log"),
        "test_perplexity", "2 ** (mean natural log)"),
    "end_symbol_not_predicted": Mistake(
        "perplexity", PERPLEXITY.format(end="", log="np.log2"),
        "test_perplexity", "</s> left out"),
    "raw_counts_for_the_lower_order": Mistake(
        "continuation_probs",
        "def continuation_probs(counts, vocab):\n"
        "    total = Counter()\n"
        "    for following in counts.values():\n"
        "        total.update(following)\n"
        "    c = np.array([total[w] for w in vocab], dtype=float)\n"
        "    return c / c.sum()\n",
        "test_continuation_probs", "raw unigram frequencies"),
    "weight_without_distinct_followers": Mistake(
        "kneser_ney_probs", KNESER_NEY.format(unseen="np.asarray(p_cont)", weight="d"),
        "test_kneser_ney_probs", "an interpolation weight of d"),
    "zeros_for_an_unseen_context": Mistake(
        "kneser_ney_probs",
        KNESER_NEY.format(unseen="np.zeros(len(vocab))",
                          weight="d * sum(1 for c in following.values() if c > 0) / c_v"),
        "test_kneser_ney_probs", "zeros for an unseen context"),
    "backoff_without_rescaling": Mistake(
        "katz_backoff_probs", KATZ.format(result="np.where(seen, (c - d) / c_h, freed * np.asarray(p_lower))"),
        "test_katz_backoff_probs", "no rescaling of the lower order"),
    "backoff_interpolated_instead": Mistake(
        "katz_backoff_probs", KATZ.format(result="np.maximum(c - d, 0) / c_h + freed * np.asarray(p_lower)"),
        "test_katz_backoff_probs", "the lower order added to the seen tokens too"),
    "greedy_instead_of_sampling": Mistake(
        "generate", GENERATE.format(draw="int(np.argmax(model(context)))", stop="if token == EOS:\n            break"),
        "test_generate", "most probable token (argmax)"),
    "end_symbol_in_the_output": Mistake(
        "generate",
        GENERATE.format(draw="rng.choice(len(vocab), p=model(context))",
                        stop="if token == EOS:\n            sentence.append(token)\n            break"),
        "test_generate", "the sentence contains '</s>'"),
}
