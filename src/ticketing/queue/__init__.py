"""The waiting room (API.md v2): fans join before the sale, are given a fair place, and are
admitted at the rate the organiser set, never more at once than there are open seats."""
