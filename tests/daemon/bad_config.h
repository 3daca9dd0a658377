#pragma once

// A configuration with exactly three problems, one of each kind check-config must name: a wrong
// type (line 2), an unknown key (line 3) and a bad duration (line 6).
inline constexpr const char* kThreeProblemConfig = R"([topics]
events = 5
evnts = "recsd.events"

[model]
half_life_short = "5 minutes"
)";
