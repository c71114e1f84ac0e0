def page_count(items, per_page):
    """How many pages `items` things fill at `per_page` a page."""
    return items // per_page
