"""Documents with metadata and every filter operator of Dify's API with the documents each one
keeps: the API test runs them through both search legs, the store test through both engines."""

DOCUMENTS = {
    "alpha": {"author": "Ada Lovelace", "year": 2019, "published": 1_560_000_000, "lab": "genomics"},
    "beta": {"author": "Alan Turing", "year": 2021, "published": 1_620_000_000, "lab": "immunology"},
    "gamma": {"author": "Grace Hopper", "year": 2023, "published": 1_680_000_000, "lab": "genomics"},
    "delta": {"author": "Ada Yonath", "year": 2020},
    "epsilon": {},
}

CASES = [
    ([("author", "contains", "Ada")], {"alpha", "delta"}),
    ([("author", "not contains", "Ada")], {"beta", "gamma"}),
    ([("author", "start with", "Al")], {"beta"}),
    ([("author", "end with", "Hopper")], {"gamma"}),
    ([("lab", "is", "genomics")], {"alpha", "gamma"}),
    ([("lab", "is not", "genomics")], {"beta"}),
    ([("lab", "empty", None)], {"delta", "epsilon"}),
    ([("lab", "not empty", None)], {"alpha", "beta", "gamma"}),
    ([("lab", "in", ["immunology", "virology"])], {"beta"}),
    ([("lab", "in", "genomics, virology")], {"alpha", "gamma"}),
    ([("lab", "not in", ["genomics"])], {"beta"}),
    ([("lab", "in", [])], set()),
    ([("year", "=", 2021)], {"beta"}),
    ([("year", "≠", 2021)], {"alpha", "gamma", "delta"}),
    ([("year", ">", 2020)], {"beta", "gamma"}),
    ([("year", "<", 2020)], {"alpha"}),
    ([("year", "≥", 2020)], {"beta", "gamma", "delta"}),
    ([("year", "≤", 2020)], {"alpha", "delta"}),
    ([("year", "is", 2019)], {"alpha"}),
    ([("published", "before", 1_600_000_000)], {"alpha"}),
    ([("published", "after", 1_600_000_000)], {"beta", "gamma"}),
    ([("author", "contains", "Ada"), ("year", ">", 2019)], {"delta"}),
    ([("author", "contains", "Alan"), ("lab", "is", "genomics")], set()),
    ([("author", "contains", "Ada"), ("year", "unknown-operator", 1)], {"alpha", "delta"}),
    ([("author", "contains", None)], None),  # dropped: no filter at all
]
