{#- The rule each project var follows: type (integer, number, boolean, text,
    choice, time = ISO date or time, time_tz = ISO time with a UTC offset),
    bounds (min/max inclusive, above = exclusive lower bound), choices, and
    whether null is allowed, and read_by: the models that read it, in their
    own SQL or through a macro (test_var_rules checks it against the
    manifest). One list: check_vars reads it, and so does the record of what
    a model was built with (built_with: a model depends on the vars read by
    itself and its ancestors). -#}
{% macro var_rules() -%}
    {{ return({
        'mtu_bytes': {
            'type': 'integer', 'min': 68, 'max': 65535,
            'read_by': ['int_messages_estimated'],
        },
        'ipv4_header_bytes': {
            'type': 'integer', 'min': 20, 'max': 60,
            'read_by': ['int_messages_estimated'],
        },
        'ipv6_header_bytes': {
            'type': 'integer', 'min': 40, 'max': 65535,
            'read_by': ['int_messages_estimated'],
        },
        'tcp_header_bytes': {
            'type': 'integer', 'min': 20, 'max': 60,
            'read_by': ['int_messages_estimated'],
        },
        'ack_ratio': {
            'type': 'number', 'min': 0,
            'read_by': ['int_messages_estimated'],
        },
        'p2p_transport': {
            'type': 'choice', 'choices': ['v1', 'v2'],
            'read_by': ['int_messages_estimated'],
        },
        'counter_mode': {
            'type': 'choice', 'choices': ['exact', 'seed'],
            'read_by': ['fct_traffic_measured_daily', 'fct_traffic_measured_hourly'],
        },
        'max_sample_gap_seconds': {
            'type': 'number', 'above': 0,
            'read_by': ['int_counter_samples_differenced'],
        },
        'max_collection_gap_seconds': {
            'type': 'number', 'above': 0,
            'read_by': ['int_counter_samples_differenced'],
        },
        'min_connection_seconds': {
            'type': 'number', 'min': 0,
            'read_by': ['fct_peer_connections'],
        },
        'node_run_peer_id_drop': {
            'type': 'integer', 'min': 1,
            'read_by': ['int_node_runs_detected'],
        },
        'plausible_from': {
            'type': 'time',
            'read_by': [
                'stg_bitcoin_p2p__messages',
                'stg_systemd_ip_accounting__intervals',
                'stg_systemd_ip_accounting__samples',
            ],
        },
        'plausible_until': {
            'type': 'time', 'null': true,
            'read_by': [
                'stg_bitcoin_p2p__messages',
                'stg_systemd_ip_accounting__intervals',
                'stg_systemd_ip_accounting__samples',
            ],
        },
        'max_message_bytes': {
            'type': 'integer', 'min': 1,
            'read_by': ['stg_bitcoin_p2p__messages'],
        },
        'max_packet_bytes': {
            'type': 'integer', 'min': 1,
            'read_by': ['stg_tshark__packets'],
        },
        'max_counter_bytes_per_second': {
            'type': 'number', 'above': 0,
            'read_by': ['int_counter_samples_differenced'],
        },
        'max_counter_packets_per_second': {
            'type': 'number', 'above': 0,
            'read_by': ['int_counter_samples_differenced'],
        },
        'network_window_start': {
            'type': 'time_tz', 'null': true,
            'read_by': [
                'fct_server_window_summary',
                'int_kafka_requests_paired',
                'int_packets_windowed',
            ],
        },
        'network_window_end': {
            'type': 'time_tz', 'null': true,
            'read_by': [
                'fct_server_window_summary',
                'int_kafka_requests_paired',
                'int_packets_windowed',
            ],
        },
        'network_server_addr': {
            'type': 'text', 'null': true,
            'read_by': ['int_kafka_requests_paired', 'int_packets_windowed'],
        },
        'network_server_port': {
            'type': 'integer', 'min': 1, 'max': 65535, 'null': true,
            'read_by': ['int_kafka_requests_paired', 'int_packets_windowed'],
        },
        'network_bucket_minutes': {
            'type': 'integer', 'min': 1, 'max': 10080,
            'read_by': ['fct_jitter_bucketed', 'fct_tcp_health_bucketed'],
        },
        'udp_idle_timeout_seconds': {
            'type': 'number', 'above': 0,
            'read_by': ['int_packets_sessionized'],
        },
        'community_id_seed': {
            'type': 'integer', 'min': 0, 'max': 65535,
            'read_by': ['fct_connections'],
        },
        'jitter_idle_gap_ms': {
            'type': 'number', 'above': 0,
            'read_by': ['int_packet_gaps_measured'],
        },
        'tracepoint_lag_seconds': {
            'type': 'number', 'min': 0,
            'read_by': ['fct_wire_overhead_hourly'],
        },
        'packet_size_bin_bytes': {
            'type': 'integer', 'min': 1,
            'read_by': ['fct_packet_size_histogram'],
        },
        'traffic_fill_max_hours': {
            'type': 'integer', 'min': 0,
            'read_by': ['fct_packet_traffic_hourly', 'fct_packet_traffic_minutely'],
        },
        'top_talkers_n': {
            'type': 'integer', 'min': 1,
            'read_by': ['fct_top_talkers'],
        },
        'anon_mode': {
            'type': 'choice', 'choices': ['opaque', 'prefix'],
            'read_by': ['dim_peers_anonymised', 'fct_top_talkers_anonymised'],
        },
        'anon_keep_port': {
            'type': 'boolean',
            'read_by': ['dim_peers_anonymised', 'fct_top_talkers_anonymised'],
        },
        'anon_key': {
            'type': 'choice', 'choices': ['env', 'test'],
            'read_by': ['dim_peers_anonymised', 'fct_top_talkers_anonymised'],
        },
        'bluetooth_series_max_seconds': {
            'type': 'integer', 'min': 1,
            'read_by': [
                'fct_bluetooth_device_packets_per_second',
                'fct_bluetooth_packet_types_per_second',
                'fct_bluetooth_packets_per_second',
            ],
        },
    }) }}
{%- endmacro %}

{#- What is wrong with one var's value under its rule, or '' -#}
{% macro var_problem(value, rule) -%}
    {%- set kind = rule['type'] -%}
    {%- set re = modules.re -%}
    {%- set day = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])' -%}
    {%- set clock = '[ T]([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,9})?)?' -%}
    {%- set offset = '(Z|[+-]([01]\\d|2[0-3]):?[0-5]\\d)' -%}
    {%- if value is none -%}
        {{ return('' if rule.get('null') else 'must be set (null is not allowed)') }}
    {%- elif kind in ('integer', 'number') -%}
        {%- if value is boolean or value is not number
            or (kind == 'integer' and value is not integer) -%}
            {{ return(value | tojson ~ ' is not ' ~ (
                'an integer' if kind == 'integer' else 'a number'
            )) }}
        {%- elif 'min' in rule and value < rule['min'] -%}
            {{ return(value ~ ' is below ' ~ rule['min']) }}
        {%- elif 'above' in rule and value <= rule['above'] -%}
            {{ return(value ~ ' must be above ' ~ rule['above']) }}
        {%- elif 'max' in rule and value > rule['max'] -%}
            {{ return(value ~ ' is above ' ~ rule['max']) }}
        {%- endif -%}
    {%- elif kind == 'choice' -%}
        {%- if value not in rule['choices'] -%}
            {{ return(value | tojson ~ ' is not one of '
                ~ rule['choices'] | join(', ')) }}
        {%- endif -%}
    {%- elif kind == 'boolean' -%}
        {%- if value is not boolean -%}
            {{ return(value | tojson ~ ' is not true or false') }}
        {%- endif -%}
    {%- elif kind == 'text' -%}
        {%- if value is not string -%}
            {{ return(value | tojson ~ ' is not text') }}
        {%- endif -%}
    {%- elif kind in ('time', 'time_tz') -%}
        {#- YAML reads an unquoted time as a date or datetime -#}
        {%- set text = value if value is string else (value | string) -%}
        {%- set with_offset = re.fullmatch(day ~ clock ~ offset, text) -%}
        {%- if kind == 'time_tz' and not with_offset -%}
            {%- if re.fullmatch(day ~ '(' ~ clock ~ ')?', text) -%}
                {{ return(text | tojson ~ ' has no UTC offset: add one, e.g. '
                    ~ '"2024-09-13 05:00:00-03:00" (+00:00 for UTC)') }}
            {%- endif -%}
            {{ return(text | tojson ~ ' is not an ISO time with a UTC offset,'
                ~ ' e.g. "2024-09-13 05:00:00-03:00"') }}
        {%- elif kind == 'time' and not with_offset
            and not re.fullmatch(day ~ '(' ~ clock ~ ')?', text) -%}
            {{ return(text | tojson ~ ' is not an ISO date or time,'
                ~ ' e.g. "2009-01-03"') }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- ' (did you mean X?)' for the known name sharing the most of its start
    and end with `name` (at least 4 characters at the start), or '' -#}
{% macro did_you_mean(name, known) -%}
    {%- set best = namespace(name='', score=0) -%}
    {%- for candidate in known | sort -%}
        {%- set start = shared_start(name, candidate) -%}
        {%- set score = start + shared_start(name | reverse, candidate | reverse) -%}
        {%- if start >= 4 and score > best.score -%}
            {%- set best.name, best.score = candidate, score -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(' (did you mean ' ~ best.name ~ '?)' if best.name else '') }}
{%- endmacro %}

{#- How many leading characters two texts share -#}
{% macro shared_start(a, b) -%}
    {%- set shared = namespace(length=0, going=true) -%}
    {%- for i in range([a | length, b | length] | min) -%}
        {%- if shared.going and a[i] == b[i] -%}
            {%- set shared.length = i + 1 -%}
        {%- else -%}
            {%- set shared.going = false -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(shared.length) }}
{%- endmacro %}

{#- Every var checked before any model runs (on-run-start): names given with
    --vars that the project does not know, each value under its rule, and the
    window's order. All problems in one line; a compile error stops the run. -#}
{% macro check_vars() -%}
    {%- set rules = var_rules() -%}
    {%- set problems = [] -%}
    {%- set given = invocation_args_dict.get('vars') or {} -%}
    {%- if given is mapping -%}
        {%- for name in given | sort if name not in rules -%}
            {%- do problems.append(
                name ~ ': not a var of this project'
                ~ did_you_mean(name, rules.keys())
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in rules | sort -%}
        {%- set problem = var_problem(var(name), rules[name]) -%}
        {%- if problem -%}
            {%- do problems.append(name ~ ': ' ~ problem) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set start, end = var('network_window_start'), var('network_window_end') -%}
    {%- if not problems and start is not none and end is not none -%}
        {%- set parse = modules.datetime.datetime.fromisoformat -%}
        {%- set start_at = parse((start | string).replace('Z', '+00:00')) -%}
        {%- set end_at = parse((end | string).replace('Z', '+00:00')) -%}
        {%- if end_at <= start_at -%}
            {%- do problems.append(
                'network_window_end: ' ~ end ~ ' is not after network_window_start '
                ~ start
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            'wirehouse: bad vars: ' ~ problems | join('; ')
        ) }}
    {%- endif -%}
{%- endmacro %}
