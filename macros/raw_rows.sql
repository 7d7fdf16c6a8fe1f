{#- The rows of a raw table with the facts of the file each came from, which
    wirehouse keeps once per file in raw.ingest_files rather than in every row:
    _source_file (its absolute path; '<path>#<n>' for the rows of its n-th
    generation, n > 1, content that did not continue what was loaded from the
    path before, such as a file refilled after a copytruncate rotation),
    _file_name (its path below the folder it was found in, the same on any
    machine; '#<n>' likewise) and _node (the node it was loaded for; NULL for
    files loaded before nodes). Only the rows of files the manifest lists: on
    Spark's Parquet tables, without transactions, a file's rows are written
    before its manifest row and become visible with it. -#}
{% macro raw_rows(source_name, table_name) -%}
    select
        raw_row.*,
        loaded_file.path || {{ _generation_suffix() }} as _source_file,
        loaded_file.name || {{ _generation_suffix() }} as _file_name,
        loaded_file.node as _node
    from {{ source(source_name, table_name) }} as raw_row
    inner join {{ source('wirehouse', 'ingest_files') }} as loaded_file
        on raw_row._file_id = loaded_file.file_id
{%- endmacro %}

{% macro _generation_suffix() -%}
    case
        when loaded_file.generation > 1 then '#' || loaded_file.generation else ''
    end
{%- endmacro %}

{#- A capture's key wherever its file sits: the node it was loaded for and the
    file's name below the folder it was found in ('sniffer/ble.pcap'), not its
    absolute path (kept as source_file). Reads raw_rows' columns. -#}
{% macro capture_id() -%}
    coalesce(_node, 'default') || '/' || _file_name
{%- endmacro %}
